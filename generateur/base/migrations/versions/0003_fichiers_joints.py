"""Fichiers joints des consultations : textes techniques du CCTP et pièces de l'acheteur, gardés dans la base."""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fichiers_joints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consultation_id", sa.Integer(), nullable=False),
        sa.Column("nom", sa.String(300), nullable=False),
        sa.Column("contenu", sa.LargeBinary(), nullable=False),
        sa.Column("empreinte", sa.String(64), nullable=False),
        sa.Column("taille", sa.Integer(), nullable=False),
        sa.Column("depose_par_id", sa.Integer(), nullable=True),
        sa.Column("depose_le", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["consultation_id"], ["consultations.id"], ondelete="CASCADE",
                                name="fk_fichiers_joints_consultation_id_consultations"),
        sa.ForeignKeyConstraint(["depose_par_id"], ["utilisateurs.id"],
                                name="fk_fichiers_joints_depose_par_id_utilisateurs"),
        sa.PrimaryKeyConstraint("id", name="pk_fichiers_joints"),
        sa.UniqueConstraint("consultation_id", "nom", name="uq_fichiers_joints_consultation_id"),
    )


def downgrade() -> None:
    op.drop_table("fichiers_joints")
