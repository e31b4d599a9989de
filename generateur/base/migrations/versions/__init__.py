"""Une migration par fichier, appliquées dans l'ordre par `base.connexion.migrer`."""
