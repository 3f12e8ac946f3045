"""Rate control's names where 0.8 had them: ``fit_size``, ``reach_psnr``,
``search`` and ``parse_size`` live in decide.py now, with every other
decision the encoder makes (issue #39); this module re-exports them for
code that imports ``hybridcodec.ratecontrol``."""

from .decide import fit_size, parse_size, reach_psnr, search

__all__ = ["fit_size", "parse_size", "reach_psnr", "search"]
