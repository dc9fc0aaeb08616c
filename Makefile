# cryopick: `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
STAMP := .make/installed
DEMO_DIR ?= demo_project

.PHONY: install test test-containers demo clean relion protos bench bench-class2d bench-topaz bench-ranker bench-chain bench-load ranker-weights

# torch (and torchvision, which topaz-em needs) first, pinned: these versions are on the machines'
# local disk (newer ones would be downloaded, GBs).
$(STAMP): pyproject.toml setup.py
	$(PIP) install -q torch==2.14.1 torchvision==0.29.1
	$(PIP) install -q -e '.[dev]'
	@mkdir -p .make && touch $(STAMP)

# The stamp is stale when this checkout is not the one installed (a moved or re-cloned tree).
install: $(if $(shell $(PYTHON) -c 'import cryopick, pathlib, sys; sys.exit(pathlib.Path(cryopick.__file__).resolve().is_relative_to(pathlib.Path("src").resolve()) is False)' 2>/dev/null && echo ok),,stale-install) $(STAMP) relion

.PHONY: stale-install
stale-install:
	rm -f $(STAMP)

# CCP-EM's pipeliner (a RELION 4/5 project reader) in its own venv: the interoperability test reads
# cryopick's pipeline and job.star files with it (tests/interop/test_pipeliner.py).
PIPELINER_PY := .make/pipeliner-venv/bin/python
$(PIPELINER_PY):
	$(PYTHON) -m venv .make/pipeliner-venv
	.make/pipeliner-venv/bin/pip install -q ccpem-pipeliner==1.6.1

# RELION 3.1 from Debian: the parity reference for tests and benchmarks (ghostscript: RELION
# needs it to write its logfile.pdf, so benchmarks compare runs with the same outputs).
relion:
	@command -v relion_autopick >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq relion openmpi-bin ghostscript >/dev/null; }

test: install $(PIPELINER_PY)
	$(PYTHON) -m pytest -q

# Opt-in: build the images, bring up containers/compose.yaml (Prefect server + UI, five services, worker),
# deploy and run the chapter through the worker, compare with the embedded run, tear down
# (tests/containers; ~10 min with images cached, ~20 min from scratch). Needs root (podman).
test-containers: install
	@command -v podman >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq podman runc debootstrap >/dev/null; }
	$(PIP) install -q podman-compose==1.6.0
	containers/build.sh
	CRYOPICK_CONTAINER_TESTS=1 $(PYTHON) -m pytest -q -s tests/containers

# The whole chapter on 12 simulated micrographs. They hold ~100 particles each, so Topaz training is told
# to expect 100 per micrograph (the tutorial's 300 is its data's density); everything else is the tutorial's.
demo: install
	rm -rf $(DEMO_DIR)
	$(PYTHON) -m cryopick simulate --o $(DEMO_DIR) --preset tutorial --n-mics 12 --seed 1
	printf '{"topaz_training": {"nr_particles_per_micrograph": 100}}\n' > $(DEMO_DIR)/demo_params.json
	$(PYTHON) -m cryopick run --project $(DEMO_DIR) --preset tutorial-cpu --params $(DEMO_DIR)/demo_params.json

bench: install
	$(PYTHON) benchmarks/bench_autopick_log.py
	$(PYTHON) benchmarks/bench_extract.py
	$(PYTHON) benchmarks/bench_service_overhead.py

# RELION 3.1 relion_refine vs cryopick class2d on ~1,000 particles, then cryopick at 1k/5k/20k (~25 min).
bench-class2d: install
	$(PYTHON) benchmarks/bench_class2d.py

# Topaz picking (pretrained) and training: cryopick vs the topaz CLI, simulated ground truth (~10-20 min).
bench-topaz: install
	$(PYTHON) benchmarks/bench_topaz.py

# The class ranker on unseen simulated projects, with RELION 3.1's classification of some (~15 min).
bench-ranker: install
	$(PYTHON) benchmarks/bench_ranker.py

# The whole chapter vs LoG alone and pretrained Topaz alone, 24 tutorial-sized micrographs (~10 min).
bench-chain: install
	$(PYTHON) benchmarks/bench_chain.py

# K flow runs at once on one set of services; a job burst against a full queue.
bench-load: install
	$(PYTHON) benchmarks/bench_load.py

# Rebuild the shipped class-scorer weights (src/cryopick/ranking/weights/) from simulated projects (~55 min).
ranker-weights: install
	$(PYTHON) -m cryopick train-ranker --o .make/ranker --projects 150 --seed 1
	cp .make/ranker/scorer.pt .make/ranker/scorer.json src/cryopick/ranking/weights/

# Regenerate the committed gRPC code in services/gen/ from protos/ (needs grpcio-tools).
protos:
	$(PYTHON) protos/generate.py --out services/gen

clean:
	rm -rf .make $(DEMO_DIR) .pytest_cache
