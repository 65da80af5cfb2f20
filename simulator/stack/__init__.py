"""Stack sources: a SAM or CloudFormation template read into the same specs a scenario's own tables
give (`sam.py`, with CloudFormation's intrinsic functions in `intrinsics.py`), and the user's change
as the new version's code (`new_code.py`)."""
