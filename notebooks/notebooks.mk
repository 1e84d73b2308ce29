# The notebooks (notebooks/*.ipynb), included from the top-level Makefile:
#   make notebooks   execute every notebook against the study in $(NOTEBOOK_STUDY) with
#                    `jupyter nbconvert --execute`, the executed copies (with outputs) and every
#                    figure as PNG into $(NOTEBOOK_OUT), then check that each expected PNG is there
# The study must exist and have been trained with --cv-predictions (model.ipynb reads
# cv_predictions.csv); the notebooks themselves are committed without outputs.
# Stand-alone: make -f Makefile -f notebooks/notebooks.mk notebooks NOTEBOOK_STUDY=out/ulm

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

NOTEBOOK_STUDY ?= target/e2e-study
NOTEBOOK_OUT   ?= target/notebooks
NOTEBOOK_VENV  := $(or $(VENV),.venv)
NOTEBOOKS      := notebooks/coverage.ipynb notebooks/model.ipynb notebooks/placement.ipynb
# What the notebooks read from the study.
NOTEBOOK_INPUTS := summary.json links.parquet sites.parquet hexes_res9.parquet coverage \
  model.json cv_predictions.csv suggested.csv suggested.summary.json
# The figures they must write (<notebook>_<figure>.png).
NOTEBOOK_PNGS := \
  coverage_state_share coverage_measured_vs_predicted coverage_state_map coverage_p_at_measured \
  model_rssi_vs_distance model_residual_map model_interval_calibration model_interval_per_hex \
  model_busiest_hex \
  placement_gain_and_bound placement_map

.PHONY: notebooks notebooks-venv

$(NOTEBOOK_VENV)/.notebooks-installed: $(NOTEBOOK_VENV)/.installed notebooks/requirements.txt
	$(NOTEBOOK_VENV)/bin/pip install -q -r notebooks/requirements.txt
	touch $@

notebooks-venv: $(NOTEBOOK_VENV)/.notebooks-installed

notebooks: notebooks-venv
	@missing=""; for f in $(NOTEBOOK_INPUTS); do test -e $(NOTEBOOK_STUDY)/$$f || missing="$$missing $$f"; done; \
	if [ -n "$$missing" ]; then echo "error: the study $(NOTEBOOK_STUDY) lacks:$$missing"; exit 1; fi
	@rm -rf $(NOTEBOOK_OUT) && mkdir -p $(NOTEBOOK_OUT)
	HEXCOVER_STUDY=$(abspath $(NOTEBOOK_STUDY)) HEXCOVER_NOTEBOOK_OUT=$(abspath $(NOTEBOOK_OUT)) \
	  JUPYTER_PLATFORM_DIRS=1 MPLBACKEND=module://matplotlib_inline.backend_inline \
	  $(NOTEBOOK_VENV)/bin/jupyter nbconvert --to notebook --execute \
	  --ExecutePreprocessor.timeout=300 --output-dir $(NOTEBOOK_OUT) $(NOTEBOOKS)
	@missing=""; for p in $(NOTEBOOK_PNGS); do test -s $(NOTEBOOK_OUT)/$$p.png || missing="$$missing $$p.png"; done; \
	if [ -n "$$missing" ]; then echo "error: the notebooks did not write:$$missing"; exit 1; fi; \
	echo "notebooks: $(words $(NOTEBOOKS)) executed, $(words $(NOTEBOOK_PNGS)) figures in $(NOTEBOOK_OUT)/"
