"""The local scoring daemon (``seqscore serve``): the only place the HTTP framework is used.

``batcher`` (dynamic batching into one model worker), ``cache`` (bounded LRU of results),
``metrics`` (Prometheus text), ``app`` (routes, error shape), ``asgi`` (body reading with a
size limit and deadline, the guard and counting middlewares), ``connection`` (uvicorn's h11
protocol with header and body deadlines), ``server`` (uvicorn, bind checks, signals).
"""
