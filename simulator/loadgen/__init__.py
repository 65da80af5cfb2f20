"""The Locust side: the asyncio bridge, the contact user, rate control, the per-process session,
the emulator subprocess and the web UI tab. `locustfiles/connect_loop.py` only wires these in."""
