"""Trained models that ship inside pip wheels, run by our own numpy/onnxruntime code.

Each module here loads the weights a wheel already installed (``musicnn``'s TF1 checkpoints,
``basic-pitch``'s ONNX graph) without importing the wheel's own framework code, so every
validator — GPU or not, CI included — runs the same learned judgments with nothing fetched at
run time. Importing this package is cheap: modules load their weights on first use, once per
process, and a parity test holds each implementation to the original's outputs on fixed clips.
"""
