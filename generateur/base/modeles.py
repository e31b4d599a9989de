"""Tables de la base : services, utilisateurs, consultations et leurs versions, fichiers joints, générations et
pièces, visas, audit.

Le schéma se construit par les migrations Alembic (`migrations/versions/`) ; ces classes en sont le reflet, et un
test vérifie qu'elles ne divergent pas. Les dates sont en temps universel (UTC), sans fuseau.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from sqlalchemy import (JSON, Boolean, DateTime, ForeignKey, Integer, LargeBinary, MetaData, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ROLES = {"acheteur": "acheteur", "juriste": "juriste", "administrateur": "administrateur"}
CONVENTION = {"ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
              "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s", "pk": "pk_%(table_name)s"}


def maintenant() -> dt.datetime:
    """Heure UTC sans fuseau, à la seconde (identique sur SQLite et PostgreSQL)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=CONVENTION)


class Service(Base):
    """Une direction ou un service acheteur : ses membres voient ses consultations."""

    __tablename__ = "services"
    id: Mapped[int] = mapped_column(primary_key=True)
    nom: Mapped[str] = mapped_column(String(200), unique=True)
    cree_le: Mapped[dt.datetime] = mapped_column(DateTime, default=maintenant)


class Utilisateur(Base):
    __tablename__ = "utilisateurs"
    id: Mapped[int] = mapped_column(primary_key=True)
    identifiant: Mapped[str] = mapped_column(String(120), unique=True)
    nom: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"))
    mot_de_passe: Mapped[str] = mapped_column(String(255))  # empreinte argon2id, jamais le mot de passe
    actif: Mapped[bool] = mapped_column(Boolean, default=True)
    echecs: Mapped[int] = mapped_column(Integer, default=0)  # essais de connexion manqués d'affilée
    bloque_jusqua: Mapped[dt.datetime | None] = mapped_column(DateTime)
    cree_le: Mapped[dt.datetime] = mapped_column(DateTime, default=maintenant)
    service: Mapped[Service | None] = relationship()


class Consultation(Base):
    """Les réponses en cours d'une consultation ; `numero_version` sert au verrouillage optimiste."""

    __tablename__ = "consultations"
    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(200), default="")
    objet: Mapped[str] = mapped_column(Text, default="")
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    reponses: Mapped[dict[str, Any]] = mapped_column(JSON)
    numero_version: Mapped[int] = mapped_column(Integer)
    cree_par_id: Mapped[int | None] = mapped_column(ForeignKey("utilisateurs.id"))
    cree_le: Mapped[dt.datetime] = mapped_column(DateTime, default=maintenant)
    modifie_par_id: Mapped[int | None] = mapped_column(ForeignKey("utilisateurs.id"))
    modifie_le: Mapped[dt.datetime] = mapped_column(DateTime, default=maintenant)
    service: Mapped[Service] = relationship()
    modifie_par: Mapped[Utilisateur | None] = relationship(foreign_keys=[modifie_par_id])

    __mapper_args__ = {"version_id_col": numero_version}


class VersionReponses(Base):
    """Chaque enregistrement des réponses, gardé : historique et différences entre deux versions."""

    __tablename__ = "versions_reponses"
    __table_args__ = (UniqueConstraint("consultation_id", "numero"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"))
    numero: Mapped[int] = mapped_column(Integer)
    reponses: Mapped[dict[str, Any]] = mapped_column(JSON)
    auteur_id: Mapped[int | None] = mapped_column(ForeignKey("utilisateurs.id"))
    le: Mapped[dt.datetime] = mapped_column(DateTime, default=maintenant)
    action: Mapped[str] = mapped_column(String(40))
    auteur: Mapped[Utilisateur | None] = relationship()


class FichierJoint(Base):
    """Un fichier désigné par les réponses d'une consultation (texte technique du CCTP d'un lot, pièce jointe par
    l'acheteur), gardé dans la base : `nom` est son chemin relatif au fichier de réponses, tel que les réponses
    l'écrivent (« cctp/lot-1.docx », « pieces/plan.pdf ») ; le contenu, son empreinte SHA-256 et sa taille."""

    __tablename__ = "fichiers_joints"
    __table_args__ = (UniqueConstraint("consultation_id", "nom"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"))
    nom: Mapped[str] = mapped_column(String(300))
    contenu: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)  # lu seulement quand il sert (pas pour lister)
    empreinte: Mapped[str] = mapped_column(String(64))
    taille: Mapped[int] = mapped_column(Integer)
    depose_par_id: Mapped[int | None] = mapped_column(ForeignKey("utilisateurs.id"))
    depose_le: Mapped[dt.datetime] = mapped_column(DateTime, default=maintenant)
    depose_par: Mapped[Utilisateur | None] = relationship()

    @classmethod
    def de(cls, consultation_id: int, nom: str, contenu: bytes, depose_par_id: int | None = None,
           depose_le: dt.datetime | None = None) -> FichierJoint:
        fichier = cls(consultation_id=consultation_id, nom=nom, depose_par_id=depose_par_id,
                      depose_le=depose_le or maintenant())
        fichier.remplir(contenu)
        return fichier

    def remplir(self, contenu: bytes) -> None:
        """Le contenu, son empreinte SHA-256 et sa taille, toujours ensemble."""
        self.contenu, self.empreinte, self.taille = contenu, hashlib.sha256(contenu).hexdigest(), len(contenu)


class Generation(Base):
    """Un DCE produit depuis une version des réponses ; ses fichiers sont dans le dossier de stockage."""

    __tablename__ = "generations"
    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"))
    numero_reponses: Mapped[int] = mapped_column(Integer)
    auteur_id: Mapped[int | None] = mapped_column(ForeignKey("utilisateurs.id"))
    le: Mapped[dt.datetime] = mapped_column(DateTime, default=maintenant)
    conformite: Mapped[dict[str, Any]] = mapped_column(JSON)
    clauses_a_valider: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    publiee_le: Mapped[dt.datetime | None] = mapped_column(DateTime)
    publiee_par_id: Mapped[int | None] = mapped_column(ForeignKey("utilisateurs.id"))
    auteur: Mapped[Utilisateur | None] = relationship(foreign_keys=[auteur_id])
    publiee_par: Mapped[Utilisateur | None] = relationship(foreign_keys=[publiee_par_id])
    pieces: Mapped[list[Piece]] = relationship(order_by="Piece.nom", cascade="all, delete-orphan")


class Piece(Base):
    """Un fichier d'une génération : son nom, son empreinte SHA-256 (nom du fichier stocké) et sa taille."""

    __tablename__ = "pieces"
    id: Mapped[int] = mapped_column(primary_key=True)
    generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"))
    nom: Mapped[str] = mapped_column(String(255))
    empreinte: Mapped[str] = mapped_column(String(64))
    taille: Mapped[int] = mapped_column(Integer)


class VisaClause(Base):
    """Une version de clause validée par un juriste (qui, quand, commentaire)."""

    __tablename__ = "visas_clauses"
    __table_args__ = (UniqueConstraint("clause_id", "clause_version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    clause_id: Mapped[str] = mapped_column(String(200))
    clause_version: Mapped[str] = mapped_column(String(40))
    juriste_id: Mapped[int] = mapped_column(ForeignKey("utilisateurs.id"))
    le: Mapped[dt.datetime] = mapped_column(DateTime, default=maintenant)
    commentaire: Mapped[str] = mapped_column(Text, default="")
    juriste: Mapped[Utilisateur] = relationship()


class VisaConsultation(Base):
    """Le visa d'un juriste sur une version des réponses d'une consultation."""

    __tablename__ = "visas_consultations"
    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"))
    numero_reponses: Mapped[int] = mapped_column(Integer)
    juriste_id: Mapped[int] = mapped_column(ForeignKey("utilisateurs.id"))
    le: Mapped[dt.datetime] = mapped_column(DateTime, default=maintenant)
    commentaire: Mapped[str] = mapped_column(Text, default="")
    juriste: Mapped[Utilisateur] = relationship()


class Audit(Base):
    """Le journal : qui (identifiant, gardé en clair), quand, quoi, sur quoi."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(primary_key=True)
    le: Mapped[dt.datetime] = mapped_column(DateTime, default=maintenant, index=True)
    qui: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(40))
    objet: Mapped[str] = mapped_column(String(255), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
