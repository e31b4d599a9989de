# Deux commandes pour une machine neuve :
#   make demo    installe dce dans .venv (sans les outils de test) et génère le DCE de chaque exemple dans sortie/
#   make tests   installe les dépendances de test (options dask et equipe comprises, LibreOffice, Chromium et
#                PostgreSQL si besoin),
#                lance toute la suite et vérifie le paquet construit (wheel) hors du dépôt
#   make banc    relance les bancs d'essai des performances (README, « Performances ») ; N=100 et 1 000 par défaut,
#                BANC_N="--n 100 --n 1000 --n 3000" pour la mémoire à 3 000 consultations
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
EXEMPLES = $(wildcard exemples/*.yaml)

.PHONY: demo tests installer libreoffice navigateur postgresql verifier-catalogue paquet docs captures banc

$(BIN)/dce: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[import]"
	touch $(BIN)/dce

installer: $(BIN)/dce

# Dépendances des tests, dont l'option dask : le test de régénération sur un cluster Dask (LocalCluster) tourne
# aussi en intégration continue ; et l'option equipe (serveur d'équipe : SQLAlchemy, Alembic, argon2, waitress,
# psycopg).
$(VENV)/.dependances-tests: $(BIN)/dce pyproject.toml
	$(BIN)/pip install --quiet -e ".[tests,dask,equipe]"
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

# Le serveur d'équipe est testé sur SQLite et sur un vrai PostgreSQL : les tests lancent un cluster jetable
# (initdb dans un dossier temporaire, port libre de 127.0.0.1, sous l'utilisateur postgres si on est root).
# Seuls les programmes du paquet Debian servent (initdb, postgres) ; le service du paquet n'est pas utilisé.
postgresql:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      postgresql >/dev/null; \
	  else \
	    echo "PostgreSQL absent : les tests du serveur d'équipe sur PostgreSQL seront ignorés (installer le paquet postgresql)"; \
	  fi; \
	fi

verifier-catalogue: installer
	$(BIN)/dce catalogue verifier

# Le paquet construit (wheel) embarque catalogue, clauses, modèles, profils et questionnaire : installé dans un
# environnement neuf, hors du dépôt, il génère un exemple à l'identique de la version du dépôt.
paquet: $(VENV)/.dependances-tests
	@set -e; d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; \
	$(BIN)/pip wheel --quiet --no-deps --no-build-isolation -w "$$d" . ; \
	$(PYTHON) -m venv "$$d/venv"; "$$d/venv/bin/pip" install --quiet "$$d"/dce-*.whl; \
	cd "$$d" && env -u DCE_RACINE venv/bin/dce generer "$(CURDIR)/exemples/restauration-lycees.yaml" --sortie hors-depot >/dev/null; \
	env -u DCE_RACINE "$(CURDIR)/$(BIN)/dce" generer "$(CURDIR)/exemples/restauration-lycees.yaml" --sortie depot >/dev/null; \
	for p in RC CCAP CCTP; do cmp "hors-depot/2026-FCS-0213-$$p.docx" "depot/2026-FCS-0213-$$p.docx"; done; \
	echo "Paquet : la wheel installée hors du dépôt génère l'exemple à l'identique."

# Le site de la documentation (docs/, mkdocs.yml) : guides de l'acheteuse, du service juridique et du service
# informatique, construits dans site/ ; --strict : un lien ou une ancre cassés, une capture absente font échouer.
$(VENV)/.dependances-docs: $(BIN)/dce
	$(BIN)/pip install --quiet -e ".[docs]"
	touch $@

docs: $(VENV)/.dependances-docs
	$(BIN)/mkdocs build --strict --quiet
	@echo "Site de la documentation construit dans site/"

# Captures d'écran des guides, prises dans Chromium par les tests du navigateur (parcours réels de l'assistant).
captures: $(VENV)/.dependances-tests navigateur
	DCE_CAPTURES=docs/captures $(BIN)/pytest -q tests/test_web.py -k "plusieurs_lots or deux_onglets or cpv or publier_depuis"

# La suite tourne sur autant de processus que de cœurs, quatre au plus (pytest-xdist) : chaque test a ses dossiers
# temporaires, son profil LibreOffice, son port, son cluster PostgreSQL par processus ; ≈ 9 min sur 2 cœurs au lieu
# de 13 en un seul processus. `TESTS_PROCESSUS=0` : un seul processus (sorties `print` visibles avec -s).
TESTS_PROCESSUS ?= auto
tests: $(VENV)/.dependances-tests libreoffice navigateur postgresql
	$(BIN)/dce catalogue verifier
	$(BIN)/pytest -q -n $(TESTS_PROCESSUS) --maxprocesses 4
	$(MAKE) --no-print-directory paquet
	$(MAKE) --no-print-directory docs

# Bancs d'essai (README, « Performances ») : à lancer sur une machine calme ; le temps de calcul (user+sys) qu'ils
# donnent à côté du temps mur dépend peu de la charge. Les modules sont compilés d'abord (.pyc), comme dans un
# paquet installé : le démarrage mesuré est celui d'un utilisateur. Une demi-heure sur 2 cœurs. Chaque régénération
# est mesurée BANC_REPETITIONS fois (lancements alternés, médiane et étendue) : d'un lancement à l'autre, la même
# machine varie de ±10 %. Le banc d'instructions (callgrind, s'il est installé) ne dépend pas de la charge : c'est lui
# qui sépare un gain de 10 %.
BANC_N ?= --n 100 --n 1000
BANC_REPETITIONS ?= 3
banc: $(VENV)/.dependances-tests
	$(BIN)/python -m compileall -q generateur benchmarks
	$(BIN)/python benchmarks/commande.py --repetitions 5
	$(BIN)/python benchmarks/accueil.py --n 100 --n 1000
	$(BIN)/python benchmarks/regeneration.py $(BANC_N) --repetitions $(BANC_REPETITIONS) --pandoc 10 --exemples 10 --dask
	@if command -v valgrind >/dev/null 2>&1; then $(BIN)/python benchmarks/instructions_lot.py --n 40 && \
	$(BIN)/python benchmarks/instructions_lot.py --n 40 --processus 2; \
	else echo "valgrind absent : banc d'instructions ignoré (paquet Debian valgrind)"; fi
