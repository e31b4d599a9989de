"""Migrations Alembic de la base du serveur d'équipe (une par version du schéma, dans versions/)."""
