"""The scenario: its types (`spec.py`) apart from what reads them: TOML (`reader.py`), SAM and
CloudFormation templates (`sam.py`, `intrinsics.py`), the user's change from a folder or a git ref
(`new_code.py`) and a function's dependencies (`dependencies.py`)."""
