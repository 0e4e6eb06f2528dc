"""Running exported generators without torch: ``styx infer`` and its library side.

* :mod:`.onnxfile`: an exported ``.onnx`` file in an onnxruntime session
  (:class:`~styx.inference.onnxfile.OnnxGenerator`), its metadata, the provider choice.
* :mod:`.batch`: a folder of photos in batches, sharded, resumable, atomic.

Tiles come from :mod:`styx.files.tiling`, shared with ``styx run``'s PyTorch path. Nothing in
this package imports torch, so ``styx infer`` starts in a fraction of a second.
"""
