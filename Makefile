# Deux commandes pour une machine neuve :
#   make demo    installe dce dans .venv et génère le DCE de chaque exemple dans sortie/
#   make tests   installe les dépendances de test (et LibreOffice si besoin) et lance toute la suite
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
EXEMPLES = $(wildcard exemples/*.yaml)

.PHONY: demo tests installer libreoffice verifier-catalogue

$(BIN)/dce: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[tests]"
	touch $(BIN)/dce

installer: $(BIN)/dce

demo: installer
	@for f in $(EXEMPLES); do \
	  nom=$$(basename $$f .yaml); \
	  $(BIN)/dce generer $$f --sortie sortie/$$nom || exit 1; \
	done
	@echo "DCE des exemples écrits dans sortie/"

# LibreOffice sert aux tests qui ouvrent chaque document (conversion PDF) ; installé depuis Debian.
libreoffice:
	@if ! command -v soffice >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      libreoffice-writer-nogui poppler-utils fonts-liberation2 fonts-dejavu-core >/dev/null; \
	  else \
	    echo "LibreOffice absent : les tests d'ouverture seront ignorés (installer libreoffice-writer)"; \
	  fi; \
	fi

tests: installer libreoffice
	$(BIN)/pytest -q
