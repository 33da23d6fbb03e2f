"""Plain data shared by every stage: actions, snapshots, counts and results.

A leaf: nothing here imports the rest of retrovue, does I/O or knows about the database.
"""
