"""Built-in descriptors: VGG16/VGG19 (``vgg``), ResNet-50 (``resnet``), Inception v3
(``inception``).

Each family has a light plugin module (the spec: names, layers, defaults, options; no
torch) and a ``*_net`` module with the factory that builds the network from torchvision.
"""
