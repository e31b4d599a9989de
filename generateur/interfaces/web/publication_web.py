"""Publier depuis le navigateur : le même résultat que `dce publier` (Word, Excel, PDF, deux archives), et le
téléversement des pièces jointes par l'acheteur.

La publication tourne dans un fil d'exécution en arrière-plan (la conversion en PDF par LibreOffice prend de
quelques secondes à une minute) ; la page de suivi se recharge d'elle-même (balise meta refresh, sans
JavaScript) et affiche l'étape en cours jusqu'aux liens de téléchargement des deux archives. Les fichiers sont
écrits dans le sous-dossier `publication/` de la consultation, d'un coup (`rendu.publication.publier`).

Les pièces téléversées pendant la saisie sont rangées à côté du brouillon (`.brouillons/IDENT-pieces/`), puis
dans le sous-dossier `pieces/` de la consultation à la génération : le fichier de réponses les désigne par
« pieces/NOM », chemin relatif au fichier de réponses, comme en ligne de commande.
"""

from __future__ import annotations

import json
import re
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, Callable

from flask import Flask, Response, abort, flash, redirect, render_template, request, url_for

from ...donnees import fichiers as module_fichiers
from ...donnees import pieces_jointes
from ...donnees.fichiers import ecrire_atomique, nom_sur
from ...erreurs import ErreurDCE
from ...rendu import publication
from . import consultations

SORTIE = "publication"  # sous-dossier de la consultation où `dce publier` écrit
PIECES = "pieces"  # sous-dossier des pièces jointes, à côté du fichier de réponses
TAILLE_MAX_PIECE = pieces_jointes.TAILLE_MAX


@dataclass
class Travail:
    """Une publication lancée depuis le navigateur."""

    nom: str
    debut: float = field(default_factory=time.monotonic)
    etape: int = 0
    message: str = "Préparation"
    fin: float | None = None
    erreurs: list[str] = field(default_factory=list)

    @property
    def en_cours(self) -> bool:
        return self.fin is None

    @property
    def duree(self) -> int:
        return int((self.fin or time.monotonic()) - self.debut)


class Publications:
    """Les publications en cours ou terminées, une par consultation (mémoire du serveur)."""

    def __init__(self) -> None:
        self.travaux: dict[str, Travail] = {}
        self.verrou = threading.Lock()

    def lancer(self, nom: str, tache: Callable[[Callable[[int, str], None]], None]) -> Travail:
        """Lance `tache(progression)` en arrière-plan, sauf si une publication de `nom` est déjà en cours."""
        with self.verrou:
            travail = self.travaux.get(nom)
            if travail is not None and travail.en_cours:
                return travail
            travail = self.travaux[nom] = Travail(nom)

        def progression(etape: int, message: str) -> None:
            travail.etape, travail.message = etape, message

        def executer() -> None:
            try:
                tache(progression)
            except ErreurDCE as exc:
                travail.erreurs = [str(p) for p in exc.problemes]
            except Exception as exc:  # noqa: BLE001 : la page le dit au lieu d'un fil mort en silence
                traceback.print_exc()
                travail.erreurs = [f"Erreur interne de dce ({type(exc).__name__} : {exc})"]
            finally:
                travail.fin = time.monotonic()

        threading.Thread(target=executer, name=f"publication-{nom}", daemon=True).start()
        return travail


def dossier_pieces_brouillon(brouillons: consultations.Brouillons, ident: str) -> Path:
    return brouillons.dossier / f"{ident}-pieces"


def copier_pieces(source: Path, cible: Path) -> None:
    """Copie les pièces téléversées d'un dossier à l'autre (brouillon → consultation, ou l'inverse)."""
    if not source.is_dir():
        return
    for fichier in sorted(source.iterdir()):
        if fichier.is_file() and not fichier.is_symlink():
            ecrire_atomique(cible / fichier.name, fichier.read_bytes())


def nom_televerse(nom_client: str, deja: set[str]) -> str:
    """Nom sûr d'un fichier téléversé (« Plan niveau 1.PDF » → « Plan-niveau-1.pdf »), sans écraser un autre."""
    chemin = PurePath(nom_client.replace("\\", "/").rsplit("/", 1)[-1])
    suffixe = chemin.suffix.lower() if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", chemin.suffix) else ""
    base = nom_sur(pieces_jointes.sans_accents(chemin.stem if suffixe else chemin.name))
    nom, n = f"{base}{suffixe}", 1
    while nom in deja:
        n += 1
        nom = f"{base}-{n}{suffixe}"
    return nom


def installer(app: Flask, dossier: Path, racine: Path, brouillons: consultations.Brouillons,
              questionnaire: Callable[[], Any]) -> None:
    """Ajoute à l'application les routes de publication et de téléversement."""
    travaux = Publications()

    @app.context_processor
    def globales_pieces() -> dict[str, Any]:
        def natures() -> dict[str, str]:
            nature = questionnaire().question("pieces_acheteur.nature")
            return dict(nature.choix or {}) if nature else {}

        return {"natures_pieces": natures, "taille_max_piece": TAILLE_MAX_PIECE}

    @app.url_value_preprocessor
    def limite_televersement(endpoint: str | None, valeurs: Any) -> None:
        # avant la lecture du formulaire (jeton CSRF) : une pièce jointe peut peser bien plus qu'un fichier de réponses
        if endpoint == "televerser_piece":
            request.max_content_length = TAILLE_MAX_PIECE + 1024 * 1024

    def trouver(nom: str) -> consultations.Fiche:
        fiche = consultations.trouver(dossier, nom)
        if fiche is None:
            abort(404)
        return fiche

    def noms(fiche: consultations.Fiche) -> dict[str, str]:
        return publication.noms_publication(fiche.reference)

    @app.post("/consultation/<path:nom>/publier")
    def publier_consultation(nom: str):
        fiche = trouver(nom)
        if fiche.version is None:
            flash("Générer d'abord le DCE : la publication part de la version en vigueur.", "alerte")
            return redirect(url_for("consultation", nom=nom))
        date = consultations.date_droit(fiche)

        def tache(progression: Callable[[int, str], None]) -> None:
            publication.publier(fiche.dossier / "reponses.yaml", fiche.dossier / SORTIE, racine, date,
                                progression=progression)

        travaux.lancer(fiche.nom, tache)
        return redirect(url_for("suivi_publication", nom=nom))

    @app.get("/consultation/<path:nom>/publication")
    def suivi_publication(nom: str):
        fiche = trouver(nom)
        travail = travaux.travaux.get(fiche.nom)
        sortie = fiche.dossier / SORTIE
        n = noms(fiche)
        listes = {}
        if travail is None or not travail.en_cours:
            for cle, dossier_pub, liste in (("public", n["public"], n["liste"]), ("interne", n["interne"], n["liste_interne"])):
                chemin = sortie / dossier_pub / liste
                listes[cle] = publication.lire_liste(chemin.read_bytes()) if chemin.is_file() else []
        disponibles = {cle: (sortie / n[cle]).is_file() for cle in ("archive", "archive_interne")}
        synthese = _synthese_publiee(sortie / n["interne"])
        return render_template("publication.html", fiche=fiche, travail=travail, etapes=publication.ETAPES,
                               listes=listes, disponibles=disponibles, noms=n, synthese=synthese)

    @app.get("/consultation/<path:nom>/publication/<archive>")
    def telecharger_publication(nom: str, archive: str):
        fiche = trouver(nom)
        n = noms(fiche)
        if archive not in (n["archive"], n["archive_interne"]):
            abort(404)
        chemin = fiche.dossier / SORTIE / archive
        if not chemin.is_file():
            abort(404)
        reponse = Response(chemin.read_bytes(), content_type="application/zip")
        reponse.headers["Content-Disposition"] = f'attachment; filename="{archive}"'
        return reponse

    @app.post("/saisie/<ident>/pieces/televerser")
    def televerser_piece(ident: str):
        donnees = brouillons.lire(ident)
        if donnees is None:
            abort(404)
        q = questionnaire()
        envoi = request.files.get("fichier")
        titre = " ".join(str(request.form.get("titre", "")).split())
        nature = str(request.form.get("nature", ""))
        lot = str(request.form.get("lot", "")).strip()
        natures = (q.question("pieces_acheteur.nature").choix or {}) if q.question("pieces_acheteur.nature") else {}
        erreurs = []
        if envoi is None or not envoi.filename:
            erreurs.append("Fichier de la pièce : choisir le fichier à téléverser.")
        if not titre:
            erreurs.append("Titre de la pièce : réponse obligatoire.")
        if nature not in natures:
            erreurs.append("Nature de la pièce : choisir l'une des natures proposées.")
        if lot and not (lot.isdigit() and 1 <= int(lot) <= 999):
            erreurs.append("Lot concerné : un numéro de lot entre 1 et 999, ou vide.")
        if erreurs:
            for e in erreurs:
                flash(e, "alerte")
            return redirect(url_for("section", ident=ident, section="pieces", _anchor="televersement"))
        cible = dossier_pieces_brouillon(brouillons, ident)
        deja = {p.name for p in cible.iterdir()} if cible.is_dir() else set()
        nom = nom_televerse(str(envoi.filename), deja)
        try:
            ecrire_atomique(cible / nom, envoi.read())
        except OSError as exc:
            raise module_fichiers.erreur_systeme(exc, cible / nom, "téléversement impossible") from None
        element: dict[str, Any] = {"titre": titre, "fichier": f"{PIECES}/{nom}", "nature": nature}
        if lot:
            element["lot"] = int(lot)
        donnees["pieces_acheteur"] = [*(donnees.get("pieces_acheteur") or []), element]
        brouillons.ecrire(ident, donnees)
        flash(f"Pièce « {titre} » téléversée ({nom}).", "succes")
        return redirect(url_for("section", ident=ident, section="pieces"))


def _synthese_publiee(dossier_interne: Path) -> dict[str, Any] | None:
    """Synthèse de l'annexe de conformité de la dernière publication (son JSON, dans le dossier interne) : la page
    ne dit « à déposer » que si elle est « conforme »."""
    for chemin in sorted(dossier_interne.glob("*-annexe-conformite.json")):
        try:
            return json.loads(chemin.read_text(encoding="utf-8")).get("synthese")
        except (OSError, ValueError):
            return None
    return None
