"""Real-robot side: driver interfaces, safety, the ZeroMQ robot server and client, and
:class:`RealBimanualEnv` (the sim env's interface on hardware).

Optional dependencies (``pip install handitl[real]``): pyzmq for the server/client,
franky-control for the FR3 driver. Both are imported only where used.
"""
