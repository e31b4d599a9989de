# Deux commandes pour une machine neuve :
#   make demo    installe dce dans .venv et génère le DCE de chaque exemple dans sortie/
#   make tests   installe les dépendances de test (option dask comprise, LibreOffice et Chromium si besoin)
#                et lance toute la suite
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
EXEMPLES = $(wildcard exemples/*.yaml)

.PHONY: demo tests installer libreoffice navigateur verifier-catalogue

$(BIN)/dce: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[tests]"
	touch $(BIN)/dce

installer: $(BIN)/dce

# Dépendances des tests, dont l'option dask : le test de régénération sur un cluster Dask (LocalCluster) tourne
# aussi en intégration continue.
$(VENV)/.dependances-tests: $(BIN)/dce
	$(BIN)/pip install --quiet -e ".[tests,dask]"
	touch $@

demo: installer
	@for f in $(EXEMPLES); do \
	  nom=$$(basename $$f .yaml); \
	  $(BIN)/dce generer $$f --sortie sortie/$$nom || exit 1; \
	done
	@echo "DCE des exemples écrits dans sortie/"

# LibreOffice convertit les pièces en PDF (dce publier, dce generer --pdf) et sert aux tests qui ouvrent chaque
# document ; Writer pour les .docx, Calc pour le bordereau des prix (.xlsx). Installé depuis Debian.
libreoffice:
	@if ! command -v soffice >/dev/null 2>&1 || ! ls /usr/lib/libreoffice/program/libsclo.so >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      libreoffice-writer-nogui libreoffice-calc-nogui poppler-utils fonts-liberation2 fonts-dejavu-core >/dev/null; \
	  else \
	    echo "LibreOffice absent : les tests d'ouverture seront ignorés (installer libreoffice-writer et libreoffice-calc)"; \
	  fi; \
	fi

# Les tests de l'assistant web (dce serveur) pilotent Chromium de Debian, sans écran, avec Playwright
# (le Chromium de Debian sert d'exécutable : pas de `playwright install`, rien n'est téléchargé par Playwright).
navigateur: installer
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      chromium fonts-dejavu-core >/dev/null; \
	  else \
	    echo "Chromium absent : les tests du navigateur seront ignorés (installer le paquet chromium)"; \
	  fi; \
	fi

verifier-catalogue: installer
	$(BIN)/dce catalogue verifier

tests: $(VENV)/.dependances-tests libreoffice navigateur
	$(BIN)/dce catalogue verifier
	$(BIN)/pytest -q
