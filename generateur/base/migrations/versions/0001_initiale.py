"""Schéma initial : services, utilisateurs, consultations et leurs versions, générations, pièces, journal d'audit."""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "services",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("nom", sa.String(200), nullable=False),
        sa.Column("cree_le", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_services"),
        sa.UniqueConstraint("nom", name="uq_services_nom"),
    )
    op.create_table(
        "utilisateurs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifiant", sa.String(120), nullable=False),
        sa.Column("nom", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("mot_de_passe", sa.String(255), nullable=False),
        sa.Column("actif", sa.Boolean(), nullable=False),
        sa.Column("echecs", sa.Integer(), nullable=False),
        sa.Column("bloque_jusqua", sa.DateTime(), nullable=True),
        sa.Column("cree_le", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"], name="fk_utilisateurs_service_id_services"),
        sa.PrimaryKeyConstraint("id", name="pk_utilisateurs"),
        sa.UniqueConstraint("identifiant", name="uq_utilisateurs_identifiant"),
    )
    op.create_table(
        "consultations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("objet", sa.Text(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("reponses", sa.JSON(), nullable=False),
        sa.Column("numero_version", sa.Integer(), nullable=False),
        sa.Column("cree_par_id", sa.Integer(), nullable=True),
        sa.Column("cree_le", sa.DateTime(), nullable=False),
        sa.Column("modifie_par_id", sa.Integer(), nullable=True),
        sa.Column("modifie_le", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"], name="fk_consultations_service_id_services"),
        sa.ForeignKeyConstraint(["cree_par_id"], ["utilisateurs.id"], name="fk_consultations_cree_par_id_utilisateurs"),
        sa.ForeignKeyConstraint(["modifie_par_id"], ["utilisateurs.id"],
                                name="fk_consultations_modifie_par_id_utilisateurs"),
        sa.PrimaryKeyConstraint("id", name="pk_consultations"),
    )
    op.create_table(
        "versions_reponses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consultation_id", sa.Integer(), nullable=False),
        sa.Column("numero", sa.Integer(), nullable=False),
        sa.Column("reponses", sa.JSON(), nullable=False),
        sa.Column("auteur_id", sa.Integer(), nullable=True),
        sa.Column("le", sa.DateTime(), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(["consultation_id"], ["consultations.id"], ondelete="CASCADE",
                                name="fk_versions_reponses_consultation_id_consultations"),
        sa.ForeignKeyConstraint(["auteur_id"], ["utilisateurs.id"], name="fk_versions_reponses_auteur_id_utilisateurs"),
        sa.PrimaryKeyConstraint("id", name="pk_versions_reponses"),
        sa.UniqueConstraint("consultation_id", "numero", name="uq_versions_reponses_consultation_id"),
    )
    op.create_table(
        "generations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consultation_id", sa.Integer(), nullable=False),
        sa.Column("numero_reponses", sa.Integer(), nullable=False),
        sa.Column("auteur_id", sa.Integer(), nullable=True),
        sa.Column("le", sa.DateTime(), nullable=False),
        sa.Column("conformite", sa.JSON(), nullable=False),
        sa.Column("clauses_a_valider", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["consultation_id"], ["consultations.id"], ondelete="CASCADE",
                                name="fk_generations_consultation_id_consultations"),
        sa.ForeignKeyConstraint(["auteur_id"], ["utilisateurs.id"], name="fk_generations_auteur_id_utilisateurs"),
        sa.PrimaryKeyConstraint("id", name="pk_generations"),
    )
    op.create_table(
        "pieces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation_id", sa.Integer(), nullable=False),
        sa.Column("nom", sa.String(255), nullable=False),
        sa.Column("empreinte", sa.String(64), nullable=False),
        sa.Column("taille", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["generation_id"], ["generations.id"], ondelete="CASCADE",
                                name="fk_pieces_generation_id_generations"),
        sa.PrimaryKeyConstraint("id", name="pk_pieces"),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("le", sa.DateTime(), nullable=False),
        sa.Column("qui", sa.String(120), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("objet", sa.String(255), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit"),
    )
    op.create_index("ix_audit_le", "audit", ["le"])


def downgrade() -> None:
    op.drop_index("ix_audit_le", table_name="audit")
    for table in ("audit", "pieces", "generations", "versions_reponses", "consultations", "utilisateurs", "services"):
        op.drop_table(table)
