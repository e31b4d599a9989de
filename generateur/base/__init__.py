"""Base de données du serveur d'équipe : comptes, services, consultations versionnées, visas, journal d'audit."""
