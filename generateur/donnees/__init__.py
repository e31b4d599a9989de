"""Données : lire et valider les fichiers (YAML avec lignes, questionnaire, réponses, valeurs saisies, profils d'acheteurs, catalogue)."""
