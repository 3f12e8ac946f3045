"""The tools, apart from the runtime: training with the codec in the loop
(``training``, ``losses``, ``diffjpeg``, ``rateproxy``), export and int8
quantization (``export``), zoo administration (``zoo_admin``) and the
benchmarks (``bench``, ``bench_decode``).

No runtime module (coding, files, the CLI's coding commands, the Pillow
plugin) imports this package: tests/test_core.py holds that line. The CLI
imports a tool only inside the command that runs it.
"""
