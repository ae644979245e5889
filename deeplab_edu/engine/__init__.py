"""The training and evaluation engine, one idea per file.

=================  ==========================================================================
``config``         ``TrainConfig``: everything a run depends on, validated; the run's *recipe*
``pretrained``     which ImageNet weights a run starts from (``default_pretrained``)
``losses``         the v1/v2 downsampled and v3 upsampled cross-entropy, auxiliary and MSC terms
``sampling``       the reproducible draw of images and crops (``DrawSampler``)
``outputs``        the engine's one call into a model in training: ``training_outputs``
``run_dir``        the run directory's rule: resume, refuse a different recipe, or overwrite
``log``            the CSV log (``LOG_FIELDS``), read back safely after a killed write
``stop``           SIGINT / SIGTERM: finish the step, save, say how to resume
``loop``           ``train()``: the loop itself
``inference``      whole-image, multi-scale + flip inference (``predict_probs``)
``evaluation``     ``evaluate()``: one confusion matrix over a set (``EvalResult``)
``crf_scores``     the dense CRF on saved probabilities, in worker processes (``crf_evaluate``)
``tables``         the chapters' Markdown results tables
=================  ==========================================================================

``deeplab_edu.train`` and ``deeplab_edu.evaluate`` re-export the public names.
"""
