"""The local AWS slice: Lambda (and, as they land, CodeDeploy and CloudWatch) on 127.0.0.1.

Each service is a package with `models.py` (state and behaviour, no HTTP) and `responses.py` (the
wire protocol); `server.py` routes requests to them.
"""
