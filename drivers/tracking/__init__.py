"""Pose sources: where the probe's tip is and where it points, as timestamped samples.

Beside the count drivers: bytes or camera frames in, `PoseSample`s out (probe_nav.drivers.
tracking.pose). Sources: OpenIGTLink TRANSFORM messages (any IGT tracker server, 3D Slicer, the
simulator's pose server) and a camera with an ArUco marker board.
"""
