"""Video: clips decoded and encoded by PyAV (or folders of frames), run through any
stylising function in batches (:func:`~styx.video.pipeline.stylise_clip`), with an optional
temporal-consistency blend (:mod:`styx.video.temporal`, OpenCV). No torch here: ``styx
infer`` gives it onnxruntime's function, ``styx run`` and the library PyTorch's."""
