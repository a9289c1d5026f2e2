"""The local scoring daemon (``seqscore serve``): the only place the HTTP framework is used.

``batcher`` (dynamic batching into one model worker), ``cache`` (bounded LRU of results),
``metrics`` (Prometheus text), ``app`` (routes), ``server`` (uvicorn, bind checks, signals).
"""
