"""The training and evaluation engine, one idea per file (each module's docstring says which); the
loop is ``engine.loop``. ``deeplab_edu.train`` and ``deeplab_edu.evaluate`` re-export the public names.
"""
