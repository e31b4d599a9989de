"""Rendu : blocs → Word (WordprocessingML), Excel, PDF, graphiques ; le dossier d'une consultation écrit sur disque."""
