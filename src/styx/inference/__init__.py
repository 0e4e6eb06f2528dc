"""Running exported generators without torch: ``styx infer`` and its library side.

* :mod:`.onnxfile`: an exported ``.onnx`` file in an onnxruntime session
  (:class:`~styx.inference.onnxfile.OnnxGenerator`), its metadata, the provider choice.
* :mod:`.tiling`: overlapping feathered tiles, shared with ``styx run``'s PyTorch path.
* :mod:`.batch`: a folder of photos in batches, sharded, resumable, atomic.

Nothing in this package imports torch, so ``styx infer`` starts in a fraction of a second.
"""
