"""Banc de charge du serveur d'équipe (`dce serveur --equipe`) : N utilisateurs simultanés qui remplissent et génèrent.

Usage : python benchmarks/equipe.py [--utilisateurs 20] [--tours 2] [--base URL] [--fils 8]

Un vrai serveur est lancé dans un processus à part (waitress, `--fils` fils, 127.0.0.1, port libre), sur une base
SQLite neuve ou sur la base PostgreSQL donnée (vide). Chaque utilisateur (comptes créés d'avance, mots de passe
argon2id aux paramètres de production) se connecte, reprend un fichier de réponses d'exemple, puis `--tours` fois :
ouvre une page de saisie, la remplit et l'enregistre (objet modifié), ouvre la fiche de la consultation et génère le
DCE. Tous commencent en même temps (barrière). Le résultat — médiane et 95e centile d'une page, d'un
enregistrement, d'une génération, d'une connexion ; nombre d'erreurs — s'affiche en Markdown, prêt pour le README.
`charge()` sert aussi au test de charge bornée (tests/test_equipe.py), qui ne vérifie que l'absence d'erreur.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

RACINE = Path(__file__).resolve().parent.parent
# Le banc ne reprend que le fichier de réponses, envoyé seul : sans les lignes « cctp_technique: » qui désignent le
# texte technique de chaque lot (à téléverser sinon sur la fiche de la consultation, « Fichiers joints »). L'exemple
# de travaux, dont le CCTP est fait de ces textes, reste hors du banc, comme avant que les autres exemples en aient.
EXEMPLES = sorted(f for f in (RACINE / "exemples").glob("*.yaml") if f.stem != "travaux-lycee")


def reponses_seules(fichier: Path) -> bytes:
    """Le fichier de réponses sans ses lignes « cctp_technique: »."""
    texte = fichier.read_text(encoding="utf-8")
    return "".join(l for l in texte.splitlines(True) if "cctp_technique:" not in l).encode("utf-8")
MOT_DE_PASSE = "banc-de-charge-2026"


@dataclass
class Mesures:
    pages: list[float] = field(default_factory=list)
    enregistrements: list[float] = field(default_factory=list)
    generations: list[float] = field(default_factory=list)
    connexions: list[float] = field(default_factory=list)
    erreurs: list[str] = field(default_factory=list)
    verrou: threading.Lock = field(default_factory=threading.Lock)

    def noter(self, liste: list[float], duree: float) -> None:
        with self.verrou:
            liste.append(duree)


class Client:
    """Un navigateur minimal : cookies, jeton CSRF lu dans la page, formulaires encodés."""

    def __init__(self, adresse: str):
        self.adresse = adresse
        self.ouvreur = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def requete(self, chemin: str, donnees: dict[str, str] | None = None, fichier: tuple[str, bytes] | None = None,
                attendu: tuple[int, ...] = (200,)) -> tuple[str, str]:
        corps, entetes = None, {}
        if fichier is not None:
            limite = uuid.uuid4().hex
            morceaux = [f'--{limite}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                        for k, v in (donnees or {}).items()]
            morceaux.append(f'--{limite}\r\nContent-Disposition: form-data; name="fichier"; filename="{fichier[0]}"\r\n'
                            f"Content-Type: application/yaml\r\n\r\n".encode() + fichier[1] + b"\r\n")
            corps = b"".join(morceaux) + f"--{limite}--\r\n".encode()
            entetes["Content-Type"] = f"multipart/form-data; boundary={limite}"
        elif donnees is not None:
            corps = urllib.parse.urlencode(donnees).encode()
        requete = urllib.request.Request(self.adresse + chemin, data=corps, headers=entetes)
        try:
            with self.ouvreur.open(requete, timeout=600) as reponse:
                statut, texte, final = reponse.status, reponse.read().decode("utf-8"), reponse.url
        except urllib.error.HTTPError as exc:
            statut, texte, final = exc.code, exc.read().decode("utf-8", "replace"), exc.url
        if statut not in attendu:
            raise RuntimeError(f"{chemin} : statut {statut}")
        return texte, final

    @staticmethod
    def jeton(page: str) -> str:
        return re.search(r'name="_csrf" value="([^"]+)"', page).group(1)


def utilisateur(adresse: str, rang: int, tours: int, depart: threading.Barrier, mesures: Mesures) -> None:
    client = Client(adresse)
    try:
        page, _ = client.requete("/connexion")
        depart.wait()
        t = time.perf_counter()
        page, _ = client.requete("/connexion", {"_csrf": client.jeton(page), "identifiant": f"acheteur{rang}",
                                                 "mot_de_passe": MOT_DE_PASSE})
        mesures.noter(mesures.connexions, time.perf_counter() - t)
        exemple = EXEMPLES[rang % len(EXEMPLES)]
        fiche_page, fiche = client.requete("/reprendre", {"_csrf": client.jeton(page)},
                                           (exemple.name, reponses_seules(exemple)))
        chemin = urllib.parse.urlparse(fiche).path
        for tour in range(tours):
            t = time.perf_counter()
            section, _ = client.requete(chemin + "/section/consultation")
            mesures.noter(mesures.pages, time.perf_counter() - t)
            champs = dict(re.findall(r'<input type="(?:text|number|date|datetime-local)"[^>]*?name="([^"]+)"[^>]*?'
                                     r'value="([^"]*)"', section))
            for nom, valeur in re.findall(r'<input type="radio"[^>]*?name="([^"]+)"[^>]*?value="([^"]*)"[^>]*?checked',
                                          section):
                champs[nom] = valeur
            for nom, valeur in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>.*?<option value="([^"]*)" selected',
                                          section, re.S):
                champs[nom] = valeur
            objet = re.search(r'<textarea[^>]*name="objet"[^>]*>([^<]*)</textarea>', section)
            champs["objet"] = f"{objet.group(1) if objet else 'Consultation'} (tour {tour + 1})"
            champs.update({"_csrf": client.jeton(section), "action": "fiche",
                           "_version": re.search(r'name="_version" value="(\d+)"', section).group(1)})
            t = time.perf_counter()
            fiche_page, _ = client.requete(chemin + "/section/consultation", {k: _texte(v) for k, v in champs.items()})
            mesures.noter(mesures.enregistrements, time.perf_counter() - t)
            if "Réponses enregistrées" not in fiche_page:
                raise RuntimeError(f"{exemple.name} : enregistrement sans confirmation")
            t = time.perf_counter()
            fiche_page, _ = client.requete(chemin)
            mesures.noter(mesures.pages, time.perf_counter() - t)
            t = time.perf_counter()
            resultat, _ = client.requete(chemin + "/generer", {"_csrf": client.jeton(fiche_page)})
            mesures.noter(mesures.generations, time.perf_counter() - t)
            if "DCE généré" not in resultat:
                raise RuntimeError(f"{exemple.name} : génération sans confirmation")
    except Exception as exc:  # noqa: BLE001 - toute erreur est comptée et rapportée
        with mesures.verrou:
            mesures.erreurs.append(f"acheteur{rang} : {type(exc).__name__} {exc}")


def _texte(valeur: str) -> str:
    import html

    return html.unescape(valeur)


def charge(adresse: str, utilisateurs: int, tours: int = 1) -> Mesures:
    """Lance `utilisateurs` fils qui partent ensemble ; les comptes acheteur0… doivent exister."""
    mesures = Mesures()
    depart = threading.Barrier(utilisateurs)
    fils = [threading.Thread(target=utilisateur, args=(adresse, i, tours, depart, mesures)) for i in range(utilisateurs)]
    for f in fils:
        f.start()
    for f in fils:
        f.join()
    return mesures


def creer_comptes(url: str, nombre: int) -> None:
    from sqlalchemy.orm import sessionmaker

    from generateur.base import comptes, connexion

    moteur = connexion.ouvrir(url)
    connexion.migrer(moteur)
    with connexion.session(sessionmaker(moteur)) as s:
        for i in range(nombre):
            comptes.ajouter(s, f"acheteur{i}", f"Acheteur {i}", "acheteur", MOT_DE_PASSE, f"Direction {i % 4}")


def quantiles(valeurs: list[float]) -> str:
    if not valeurs:
        return "—"
    p95 = statistics.quantiles(valeurs, n=20, method="inclusive")[-1] if len(valeurs) > 1 else valeurs[0]
    return f"{statistics.median(valeurs) * 1000:.0f} ms | {p95 * 1000:.0f} ms | {len(valeurs)}"


def main() -> None:
    sys.path.insert(0, str(RACINE))
    from mesures import analyseur

    parser = analyseur(__doc__)
    parser.add_argument("--utilisateurs", type=int, default=20, help="utilisateurs simultanés")
    parser.add_argument("--tours", type=int, default=2, help="consultations remplies et générées par utilisateur")
    parser.add_argument("--base", default=None, help="URL d'une base vide (par défaut : SQLite neuve)")
    parser.add_argument("--fils", type=int, default=8, help="fils du serveur (waitress)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dce-banc-") as dossier:
        url = args.base or f"sqlite:///{dossier}/dce.sqlite"
        creer_comptes(url, args.utilisateurs)
        commande = [sys.executable, "-c", "from generateur.interfaces.cli import main; main()", "--catalogue",
                    str(RACINE), "serveur", "--equipe", "--port", "0", "--base", url, "--stockage",
                    f"{dossier}/stockage", "--fils", str(args.fils)]
        serveur = subprocess.Popen(commande, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=dossier,
                                   env={**os.environ, "PYTHONPATH": str(RACINE)})
        try:
            ligne = serveur.stdout.readline()
            adresse = re.search(r"(http://127\.0\.0\.1:\d+)/", ligne).group(1)
            debut = time.perf_counter()
            mesures = charge(adresse, args.utilisateurs, args.tours)
            duree = time.perf_counter() - debut
        finally:
            serveur.terminate()
            serveur.wait(timeout=30)
    base = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    print(f"{args.utilisateurs} utilisateurs simultanés × {args.tours} tours, {base}, waitress {args.fils} fils, "
          f"{os.cpu_count()} cœurs : {duree:.0f} s, {len(mesures.erreurs)} erreur(s)\n")
    print("| requête | médiane | 95e centile | nombre |\n|---|---|---|---|")
    print(f"| page (saisie, fiche) | {quantiles(mesures.pages)} |")
    print(f"| enregistrement d'une page | {quantiles(mesures.enregistrements)} |")
    print(f"| génération d'un DCE | {quantiles(mesures.generations)} |")
    print(f"| connexion (argon2id) | {quantiles(mesures.connexions)} |")
    for erreur in mesures.erreurs[:10]:
        print("erreur :", erreur)


if __name__ == "__main__":
    main()
