"""shepherd-inspector: a desktop window onto the Shepherd service's database.

Qt-free modules (`formatting`, `policy`) hold the pure logic; the rest are thin
PySide6 views and models over `shepherd_store`.
"""

__version__ = "0.1.0"
