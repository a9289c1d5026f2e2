"""The local scoring daemon (``seqscore serve``): the only place the HTTP framework is used.

``models`` (the served models: one engine each, loaded and checked in the worker, chosen by a
request's ``model``), ``batcher`` (dynamic batching into one model worker, one model and one
setting per batch), ``cache`` (bounded LRU of results, keyed by the model's identity),
``metrics`` (Prometheus text), ``app`` (routes, error shape), ``asgi`` (body reading with a
size limit and deadline, the guard and counting middlewares), ``connection`` (uvicorn's h11
protocol with header and body deadlines), ``server`` (uvicorn, bind checks, signals).
"""
