"""The bring-to-see accelerometer simulation behind datasets/motion.py (whose
docstring describes the model and lists the files); cli.main is the entry point."""
