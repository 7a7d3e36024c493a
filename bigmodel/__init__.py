"""BigModel Studio's core: datasets, model families, training jobs and prediction.

Plain Python on TensorFlow/Keras that never imports Streamlit, so the web pages,
the command line (`python -m bigmodel`) and tests share one implementation.
"""

__version__ = "0.1.0"
