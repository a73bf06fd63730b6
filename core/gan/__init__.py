"""Synthetic images: generation from trained generators and the quality protocol that judges them.

Owns: the checked generator loader (card required, sha256 checked through ``core.serving.loader``),
sampling, latent interpolation and synthetic-marked PNGs (``generation``); the fixed ImageNet
MobileNet feature extractor (``features``); FID, KID and MS-SSIM (``quality``); memorisation
checks (``memorisation``); and the protocol every generator card carries (``protocol``).
May import ``core.models`` (the DCGAN), ``core.serving`` (loader, errors), ``core.paths`` and
``core.atomic``; never Streamlit, ``pages`` or ``training``. Modules are imported on demand so
that importing ``core.gan`` does not load TensorFlow.
"""
