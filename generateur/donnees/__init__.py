"""Données : lire et valider les fichiers (YAML avec lignes, questionnaire, réponses, valeurs saisies, profils d'acheteurs, catalogue)."""

from .cache import classes_compilees

# Dès la première couche importée, avant les classes de données des autres modules de dce : leur code compilé est
# relu du cache disque au lieu d'être recompilé à chaque commande (voir `cache.classes_compilees`).
classes_compilees()
