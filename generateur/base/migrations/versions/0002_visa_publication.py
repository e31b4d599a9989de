"""Visa juridique et publication : visas des versions de clauses, visas des consultations, génération publiée."""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "visas_clauses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clause_id", sa.String(200), nullable=False),
        sa.Column("clause_version", sa.String(40), nullable=False),
        sa.Column("juriste_id", sa.Integer(), nullable=False),
        sa.Column("le", sa.DateTime(), nullable=False),
        sa.Column("commentaire", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["juriste_id"], ["utilisateurs.id"], name="fk_visas_clauses_juriste_id_utilisateurs"),
        sa.PrimaryKeyConstraint("id", name="pk_visas_clauses"),
        sa.UniqueConstraint("clause_id", "clause_version", name="uq_visas_clauses_clause_id"),
    )
    op.create_table(
        "visas_consultations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consultation_id", sa.Integer(), nullable=False),
        sa.Column("numero_reponses", sa.Integer(), nullable=False),
        sa.Column("juriste_id", sa.Integer(), nullable=False),
        sa.Column("le", sa.DateTime(), nullable=False),
        sa.Column("commentaire", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["consultation_id"], ["consultations.id"], ondelete="CASCADE",
                                name="fk_visas_consultations_consultation_id_consultations"),
        sa.ForeignKeyConstraint(["juriste_id"], ["utilisateurs.id"],
                                name="fk_visas_consultations_juriste_id_utilisateurs"),
        sa.PrimaryKeyConstraint("id", name="pk_visas_consultations"),
    )
    with op.batch_alter_table("generations") as table:
        table.add_column(sa.Column("publiee_le", sa.DateTime(), nullable=True))
        table.add_column(sa.Column("publiee_par_id", sa.Integer(), nullable=True))
        table.create_foreign_key("fk_generations_publiee_par_id_utilisateurs", "utilisateurs", ["publiee_par_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("generations") as table:
        table.drop_constraint("fk_generations_publiee_par_id_utilisateurs", type_="foreignkey")
        table.drop_column("publiee_par_id")
        table.drop_column("publiee_le")
    op.drop_table("visas_consultations")
    op.drop_table("visas_clauses")
