"""Video: clips decoded and encoded by PyAV (or folders of frames), run through any
stylising function in batches (:func:`~styx.video.pipeline.stylise_clip`), with an optional
temporal-consistency blend (:mod:`styx.video.temporal`, OpenCV). No torch here: ``styx
infer`` gives it onnxruntime's function, ``styx run`` and the library PyTorch's."""

#: Frames a segment of a clip holds (``--segment-frames``): what a Ctrl-C may cost, what a
#: re-run or a shard starts from, and how often the result has a key frame. Here, not in
#: :mod:`styx.video.pipeline`, so the command line's options import nothing heavy.
SEGMENT_FRAMES = 96
