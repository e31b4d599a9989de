"""L'assistant `dce nouveau`, `dce verifier`, `dce expliquer` et `dce questionnaire schema`, vus par l'acheteur.

Les scénarios répondent aux invites de l'assistant par leur libellé (les autres invites reçoivent Entrée :
la valeur proposée) ; les saisies obtenues sont rejouées telles quelles dans le vrai terminal de click
(CliRunner), ou dans un pseudo-terminal pour le vrai Ctrl-C.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from generateur.donnees import questionnaire, reponses
from generateur.droit import suggestions
from generateur.interfaces.assistant import Assistant
from generateur.interfaces.cli import main
from generateur.erreurs import ErreurDonnees
from generateur.droit.regles import preparer
from conftest import EXEMPLES, RACINE, Lu, ecrire, reponses as base_reponses

INS = "\u00a0"
CTRL_C = object()


class Repondeur:
    """Répond aux invites dans l'ordre d'un scénario (libellé attendu, saisie) ; Entrée ailleurs."""

    def __init__(self, scenario: list[tuple[str, object]]):
        self.scenario = list(scenario)
        self.saisies: list[str] = []
        self.journal: list[str] = []

    def demander(self, invite: str) -> str:
        texte = invite.replace(INS, " ").replace("\u2019", "'")  # le parcours, pas la typographie
        assert len(self.saisies) < 400, "l'assistant tourne en rond :\n" + "\n".join(self.journal[-30:])
        saisie: object = ""
        if self.scenario and self.scenario[0][0] in texte:
            saisie = self.scenario.pop(0)[1]
        if saisie is CTRL_C:
            raise KeyboardInterrupt
        self.saisies.append(str(saisie))
        self.journal.append(f"{texte} {saisie}")
        return str(saisie)

    def afficher(self, texte: str = "") -> None:
        self.journal.append(texte.replace(INS, " ").replace("\u2019", "'"))

    @property
    def sortie(self) -> str:
        return "\n".join(self.journal)


def derouler(scenario, fichier: Path, existant: Path | None = None) -> Repondeur:
    """Déroule l'assistant sur un scénario ; vérifie que chaque étape du scénario a été rencontrée."""
    r = Repondeur(scenario)
    Assistant(RACINE, r, existant).executer(fichier)
    assert not r.scenario, f"étapes jamais atteintes : {r.scenario}\n" + r.sortie[-3000:]
    return r


def normal(texte: str) -> str:
    return texte.replace(INS, " ").replace("\u202f", " ").replace("\u2019", "'")


TRAVAUX = [
    ("Référence de la consultation", "2026-TRX-0420"),
    ("Objet de la consultation", "Réhabilitation énergétique de l'externat du lycée Pierre-Paul Riquet"),
    ("Nature du marché", "1"),
    ("Famille d'achat", "batiment"),
    ("Code CPV principal", "45454000-4"),
    ("Date de lancement", "01/12/2026"),
    ("Date et heure limites", "15/01/2027 12:00"),
    ("Durée du marché", "18"),
    ("Délai de garantie", "12"),
    ("Lot 1 – Intitulé", "Gros œuvre"),
    ("Lot 1 – Montant", "950 000"),
    ("Lots : ajouter un élément n° 2", "o"),
    ("Lot 2 – Intitulé", "Menuiseries extérieures"),
    ("Lot 2 – Montant", "420000"),
    ("Lot 2 – préciser les champs facultatifs", "o"),
    ("Lot 2 – Part de la main-d'œuvre", "35"),
    ("Lots : ajouter un élément n° 3", "o"),
    ("Lot 3 – Intitulé", "Peinture"),
    ("Lot 3 – Montant", "185 000,00 € HT"),
    ("Lots : ajouter un élément n° 4", "n"),
    ("Critère 1 – Intitulé", "Prix"),
    ("Critère 1 – Pondération", "40"),
    ("Critère 1 – Nature", "1"),
    ("Critères : ajouter un élément n° 2", "o"),
    ("Critère 2 – Intitulé", "Valeur technique"),
    ("Critère 2 – Pondération", "45"),
    ("Critère 2 – Nature", "technique"),
    ("Critères : ajouter un élément n° 3", "o"),
    ("Critère 3 – Intitulé", "Performance environnementale du chantier"),
    ("Critère 3 – Pondération", "15"),
    ("Critère 3 – Nature", "4"),
    ("Critères : ajouter un élément n° 4", "n"),
    ("Facilitateur de la clause d'insertion", "Maison de l'emploi du Sicoval"),
    ("Enregistrer dans", ""),
]


@pytest.fixture(scope="module")
def travaux(tmp_path_factory) -> tuple[Path, Repondeur]:
    dossier = tmp_path_factory.mktemp("assistant")
    fichier = dossier / "travaux.yaml"
    return fichier, derouler(TRAVAUX, fichier)


def test_consultation_de_travaux_en_lots_complete_jusqu_au_dce(travaux, tmp_path):
    fichier, repondeur = travaux
    # les mêmes saisies, tapées dans le vrai terminal de click
    cli = tmp_path / "cli.yaml"
    resultat = CliRunner().invoke(main, ["nouveau", str(cli)], input="\n".join(repondeur.saisies) + "\n")
    assert resultat.exit_code == 0, resultat.output
    sortie = normal(resultat.output)
    assert "Suggestion : Clause d'insertion par l'activité économique (SPASER, mise en œuvre au-delà du droit : actions 6.2 et 6.3)" in sortie
    assert "Suggestion : Avance majorée du contrat de filière BTP (SPASER, mise en œuvre au-delà du droit : action 11.4)" in sortie
    assert "── Récapitulatif ──" in sortie and "Montant estimé du lot (€ HT) : 420 000,00 € HT" in sortie
    assert f"Réponses écrites dans {cli}" in sortie
    assert cli.read_text(encoding="utf-8") == fichier.read_text(encoding="utf-8")

    texte = fichier.read_text(encoding="utf-8")
    assert "# Les lots" in texte and "date_lancement: 2026-12-01" in texte
    donnees = yaml.safe_load(texte)
    assert [l["intitule"] for l in donnees["lots"]] == ["Gros œuvre", "Menuiseries extérieures", "Peinture"]
    assert [l["montant_estime"] for l in donnees["lots"]] == [950000, 420000, 185000]
    assert donnees["lots"][1]["part_main_oeuvre"] == 35 and "part_main_oeuvre" not in donnees["lots"][0]
    assert donnees["spaser"]["insertion"] == {"actif": True, "facilitateur": "Maison de l'emploi du Sicoval"}
    assert donnees["spaser"]["filiere_btp"] is True
    assert sum(c["ponderation"] for c in donnees["criteres"]) == 100

    generation = CliRunner().invoke(main, ["generer", str(fichier), "--sortie", str(tmp_path / "dce")])
    assert generation.exit_code == 0, generation.output
    ccap = Lu(tmp_path / "dce" / "2026-TRX-0420-CCAP.docx")
    rc = Lu(tmp_path / "dce" / "2026-TRX-0420-RC.docx")
    assert "Menuiseries extérieures" in rc.tout and "Peinture" in rc.tout
    insertion = ccap.article("insertion")
    assert insertion
    # lot 2 : 420 000 € × 35 % × 5 % ÷ 30 €/h = 245 heures ; avance de 30 % de la filière BTP (lot ≤ 1 M€)
    assert "245" in normal(ccap.tout) and "30 %" in normal(ccap.tout)


def test_retour_arriere_sur_une_question_et_dans_une_liste(tmp_path):
    scenario = [(e, s) for e, s in TRAVAUX if not e.startswith(("Lot 3", "Lots : ajouter un élément n° 4"))]
    i = scenario.index(("Durée du marché", "18"))
    scenario[i:i + 1] = [("Durée du marché", "24"), ("Forme du marché", "<"), ("Durée du marché (en mois) [24]", "18")]
    i = scenario.index(("Lots : ajouter un élément n° 3", "o"))
    scenario[i:i + 1] = [("Lots : ajouter un élément n° 3", "o"), ("Lot 3 – Numéro", "<"),
                         ("Lots : garder le n° 3 ? (o/n) [oui]", "n")]
    fichier = tmp_path / "r.yaml"
    r = derouler(scenario, fichier)
    donnees = yaml.safe_load(fichier.read_text(encoding="utf-8"))
    assert donnees["duree_mois"] == 18
    assert [l["numero"] for l in donnees["lots"]] == [1, 2]
    assert "Durée du marché (en mois) [24] : 18" in r.sortie


def test_saisies_invalides_refusees_avec_la_raison_puis_corrigees(tmp_path):
    scenario = list(TRAVAUX)
    remplacer = {
        ("Code CPV principal", "45454000-4"): [("Code CPV principal", "ABC"), ("Code CPV principal", "45454000-4")],
        ("Date de lancement", "01/12/2026"): [("Date de lancement", "31/02/2026"), ("Date de lancement", "01/12/2026")],
        ("Date et heure limites", "15/01/2027 12:00"): [("Date et heure limites", "15/11/2026 12:00"),
                                                        ("Date et heure limites", "15/01/2027"),
                                                        ("Date et heure limites", "15/01/2027 12:00")],
        ("Lot 1 – Montant", "950 000"): [("Lot 1 – Montant", "0"), ("Lot 1 – Montant", "950 000 € TTC"),
                                         ("Lot 1 – Montant", "950 000")],
        ("Critère 1 – Nature", "1"): [("Critère 1 – Nature", "12"), ("Critère 1 – Nature", "1")],
    }
    scenario = [x for e in scenario for x in remplacer.get(e, [e])]
    fichier = tmp_path / "r.yaml"
    r = derouler(scenario, fichier)
    sortie = r.sortie
    assert "✗ aucun code CPV ne contient « ABC »" in sortie
    assert "✗ date inexistante « 31/02/2026 »" in sortie
    assert "✗ la date limite de remise des plis doit suivre la date de lancement" in sortie
    assert "✗ heure attendue après la date" in sortie
    assert "✗ valeur trop petite : au moins 1,00 € HT" in sortie
    assert "✗ montant hors taxes attendu (HT)" in sortie
    assert "✗ choix inconnu « 12 » : taper un numéro de 1 à 7" in sortie
    donnees = reponses.charger(fichier, questionnaire.charger(RACINE / "questionnaire.yaml")).donnees
    assert donnees["cpv"] == "45454000-4" and donnees["lots"][0]["montant_estime"] == 950000


def test_aide_sur_point_d_interrogation(tmp_path):
    scenario = list(TRAVAUX)
    scenario.insert(scenario.index(("Délai de garantie", "12")), ("Délai de garantie", "?"))
    r = derouler(scenario, tmp_path / "r.yaml")
    assert "Aide : Délai pendant lequel le titulaire répond des désordres" in r.sortie
    assert "Réponse attendue : un nombre entier, de 0 à 120." in r.sortie


def test_mode_edition_preremplit_chaque_reponse(tmp_path):
    original = tmp_path / "travaux-lycee.yaml"
    shutil.copy(EXEMPLES / "travaux-lycee.yaml", original)
    avant = original.read_bytes()
    r = derouler([("Durée du marché (en mois) [18]", "20"), ("Enregistrer dans", "")], original, existant=original)
    assert "Modification de" in r.sortie
    assert "Objet de la consultation [Travaux de réhabilitation énergétique" in r.sortie
    assert "Lot 5 – Intitulé du lot [Chauffage, ventilation et plomberie]" in r.sortie
    q = questionnaire.charger(RACINE / "questionnaire.yaml")
    ancien = reponses.valider(reponses.yaml_lignes.lire_texte(avant.decode("utf-8"), "avant"), q).donnees
    nouveau = reponses.charger(original, q).donnees
    assert nouveau.pop("duree_mois") == 20 and ancien.pop("duree_mois") == 18
    assert nouveau == ancien


def test_ctrl_c_garde_un_brouillon_que_la_meme_commande_reprend(tmp_path, monkeypatch):
    from generateur.interfaces import commandes_assistant

    appels = {"n": 0}

    def demander(self, invite):
        appels["n"] += 1
        if appels["n"] == 12:
            raise KeyboardInterrupt
        return "2026-TRX-1" if "Référence" in invite else ""

    monkeypatch.setattr(commandes_assistant.Terminal, "demander", demander)
    fichier = tmp_path / "r.yaml"
    brouillon = tmp_path / "r.brouillon.yaml"
    resultat = CliRunner().invoke(main, ["nouveau", str(fichier)])
    assert resultat.exit_code == 130
    assert (f"Interrompu : le fichier de réponses n'est pas écrit ; réponses gardées dans le brouillon {brouillon} ; "
            "relancer la même commande pour reprendre.") in normal(resultat.output)
    assert [p.name for p in tmp_path.iterdir()] == ["r.brouillon.yaml"]  # le fichier de réponses n'est pas écrit
    assert yaml.safe_load(brouillon.read_text(encoding="utf-8"))["reponses"]["reference"] == "2026-TRX-1"

    # la même commande reprend le brouillon : la référence n'est pas redemandée, la saisie continue
    scenario = [("Un brouillon de cette saisie existe", "o")] + TRAVAUX[1:]
    r = derouler(scenario, fichier)
    assert "Brouillon repris : 2 réponses déjà données." in r.sortie
    assert not any(ligne.startswith("Référence de la consultation") for ligne in r.journal)  # invites seules
    assert yaml.safe_load(fichier.read_text(encoding="utf-8"))["reference"] == "2026-TRX-1"
    assert not brouillon.exists()  # fichier écrit : le brouillon n'a plus lieu d'être

    # en modification, le fichier existant reste intact ; le brouillon garde ce qui a été saisi
    shutil.copy(EXEMPLES / "travaux-lycee.yaml", fichier)
    avant = fichier.read_bytes()
    appels["n"] = 0
    resultat = CliRunner().invoke(main, ["nouveau", str(fichier)])
    assert resultat.exit_code == 130
    assert fichier.read_bytes() == avant and sorted(p.name for p in tmp_path.iterdir()) == ["r.brouillon.yaml",
                                                                                          "r.yaml"]


def test_brouillon_enregistre_a_chaque_section(tmp_path):
    """Sans Ctrl-C (processus tué, coupure) : le brouillon est déjà là, section par section."""
    fichier = tmp_path / "r.yaml"
    scenario = TRAVAUX[:TRAVAUX.index(("Lot 1 – Intitulé", "Gros œuvre"))] + [("Lot 1 – Intitulé", CTRL_C)]
    with pytest.raises(KeyboardInterrupt):
        derouler(scenario, fichier)
    brouillon = yaml.safe_load((tmp_path / "r.brouillon.yaml").read_text(encoding="utf-8"))
    assert brouillon["reponses"]["duree_mois"] == 18 and "lots.0.intitule" not in brouillon["vues"]
    assert "duree_mois" in brouillon["vues"]


def test_modifier_une_reponse_depuis_le_recapitulatif_et_y_revenir(tmp_path):
    fin = TRAVAUX.index(("Enregistrer dans", ""))
    scenario = TRAVAUX[:fin] + [
        ("Enregistrer dans", "m"), ("Réponse à modifier", "lot 2 montant"),  # deux questions : on choisit
        ("Numéro de la question", "1"), ("Lot 2 – Montant estimé du lot", "430 000"),
        ("Enregistrer dans", ""),
    ]
    fichier = tmp_path / "r.yaml"
    r = derouler(scenario, fichier)
    donnees = yaml.safe_load(fichier.read_text(encoding="utf-8"))
    assert [l["montant_estime"] for l in donnees["lots"]] == [950000, 430000, 185000]
    # entre la modification et la confirmation, aucune autre question n'est reposée
    i = max(k for k, ligne in enumerate(r.journal) if "Réponse à modifier" in ligne)
    questions = [l for l in r.journal[i + 1:] if l.rstrip().endswith(":") or " : " in l and "[" in l]
    assert [q for q in questions if "Lot 2 – Montant" not in q and "Enregistrer dans" not in q] == []
    assert r.sortie.count("── Récapitulatif ──") == 2
    assert "1. Lot 2 – Montant estimé du lot (€ HT) : 420 000,00 € HT" in normal(r.sortie)


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminal POSIX")
def test_vrai_ctrl_c_dans_un_pseudo_terminal(tmp_path):
    import pty
    import select

    fichier = tmp_path / "r.yaml"
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - processus enfant
        os.chdir(tmp_path)
        os.environ["DCE_RACINE"] = str(RACINE)
        # Ctrl-C tel que dans le terminal d'un utilisateur : une suite lancée en arrière-plan par un shell sans contrôle
        # des tâches (`cmd &` dans un script) hérite de SIGINT ignoré, que Python laisse ignoré ; les Ctrl-C du
        # terminal resteraient sans effet (échec vu ainsi, état de l'enfant à l'appui)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        # SIGUSR1 : pile de chaque fil de l'enfant écrite dans le terminal (diagnostic si les Ctrl-C restent sans effet)
        os.execv(sys.executable, [sys.executable, "-c", "import faulthandler, signal, sys; "
                                  "faulthandler.register(signal.SIGUSR1, all_threads=True); "
                                  "from generateur.interfaces.cli import main; sys.exit(main())",
                                  "nouveau", str(fichier)])
    lu = b""

    def attendre(motif: bytes, delai: float = 90) -> None:
        nonlocal lu
        fin = time.monotonic() + delai
        while motif not in lu:
            assert time.monotonic() < fin, f"{motif!r} attendu ; lu :\n" + lu.decode(errors="replace")[-2000:]
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    lu += os.read(fd, 4096)
                except OSError:
                    break

    attendre("Profil d’acheteur".encode())
    os.write(fd, b"\r")
    attendre(b"rence de la consultation")
    os.write(fd, b"2026-TRX-9\r")
    attendre(b"Objet de la consultation")
    # un Ctrl-C reçu juste avant que Python ne se bloque en lecture n'interrompt pas celle-ci : on insiste
    for _ in range(20):
        time.sleep(0.2)
        os.write(fd, b"\x03")
        try:
            attendre("relancer la même commande pour reprendre".encode(), 5)
            break
        except AssertionError:
            continue
    try:
        attendre("relancer la même commande pour reprendre".encode(), 1)
    except AssertionError:  # état de l'enfant joint au message : signaux bloqués, ignorés, en attente ; pile Python
        etat = Path(f"/proc/{pid}/status").read_text() if Path(f"/proc/{pid}/status").exists() else ""
        etat = "\n".join(l for l in etat.splitlines() if l.startswith(("State", "Sig", "Shd", "Threads")))
        os.kill(pid, signal.SIGUSR1)
        time.sleep(1)
        try:
            attendre(b"\x00", 2)  # lit la pile écrite par faulthandler (motif jamais écrit)
        except AssertionError:
            pass
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail(f"Ctrl-C sans effet ; état de l'enfant :\n{etat}\nlu :\n" + lu.decode(errors="replace")[-4000:])
    _, statut = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(statut) == 130
    assert [p.name for p in tmp_path.iterdir()] == ["r.brouillon.yaml"]  # le fichier de réponses n'est pas écrit
    assert yaml.safe_load((tmp_path / "r.brouillon.yaml").read_text(encoding="utf-8"))["reponses"]["reference"] \
        == "2026-TRX-9"


def test_refus_d_une_suggestion_obligatoire_exige_une_justification(tmp_path):
    scenario = [
        ("Référence", "2026-SRV-0099"), ("Objet", "Nettoyage des lycées de la Haute-Garonne"),
        ("Nature du marché", "services"), ("Famille d'achat", "nettoyage"), ("Code CPV", "90911200-8"),
        ("Date de lancement", "01/12/2026"), ("Date et heure limites", "15/01/2027 12:00"), ("Durée du marché", "36"),
        ("Lot 1 – Intitulé", "Lycées du nord"), ("Lot 1 – Montant", "150000"),
        ("Lots : ajouter un élément n° 2", "o"), ("Lot 2 – Intitulé", "Lycées du sud"), ("Lot 2 – Montant", "450000"),
        ("Lots : ajouter un élément n° 3", "n"),
        ("Critère 1 – Intitulé", "Prix"), ("Critère 1 – Pondération", "100"), ("Critère 1 – Nature", "prix"),
        ("Critères : ajouter un élément n° 2", "n"),
        # critère environnemental : imposé depuis le 21 août 2026, aucun refus possible
        ("Retenir cette suggestion", "n"), ("Retenir cette suggestion", "o"),
        ("Critères : ajouter un élément n° 2 ? (o/n) [oui]", ""),
        ("Critère 2 – Intitulé", "Performance environnementale"), ("Critère 2 – Pondération", "20"),
        ("Critère 2 – Nature", "4"), ("Critères : ajouter un élément n° 3", "n"),
        ("Critère 1 – Pondération (%) [100 %]", "80"), ("Critères : ajouter un élément n° 3", "n"),
        # clause d'insertion refusée : la loi l'impose au-delà du seuil européen, le refus est motivé
        ("Retenir cette suggestion", "n"),
        ("Justification de l'absence de condition d'exécution sociale", ""),
        ("Justification de l'absence de condition d'exécution sociale", "Marché réservé en préparation."),
        ("Enregistrer dans", ""),
    ]
    fichier = tmp_path / "r.yaml"
    r = derouler(scenario, fichier)
    assert "✗ refus impossible : CCP L2152-7 et R2152-7" in r.sortie
    assert "Obligatoire : CCP L2112-2-1" in r.sortie and "un refus doit être justifié" in r.sortie
    assert "✗ la somme des pondérations des critères vaut 120 % au lieu de 100 %" in r.sortie
    donnees = yaml.safe_load(fichier.read_text(encoding="utf-8"))
    assert donnees["justifications"]["absence_clause_sociale"] == "Marché réservé en préparation."
    assert donnees["spaser"]["insertion"]["actif"] is False
    assert donnees["spaser"]["ecolabels"] == {"actif": True, "familles": ["produits_nettoyage"]}
    assert [c["type"] for c in donnees["criteres"]] == ["prix", "environnemental"]

    sortie = normal(CliRunner().invoke(main, ["expliquer", str(fichier)]).output)
    assert "[refusée, justifiée] Clause d'insertion par l'activité économique" in sortie
    assert "justification enregistrée : « Marché réservé en préparation. »" in sortie


def test_lot_unique_suggere_l_allotissement_et_motive_le_refus(tmp_path):
    scenario = [(e, s) for e, s in TRAVAUX if not e.startswith(("Lot 2", "Lot 3", "Lots : ajouter un élément n° 3",
                                                                   "Lots : ajouter un élément n° 4"))]
    scenario[scenario.index(("Lot 1 – Montant", "950 000"))] = ("Lot 1 – Montant", "1 200 000")
    i = scenario.index(("Lots : ajouter un élément n° 2", "o"))
    scenario[i:i + 1] = [("Lots : ajouter un élément n° 2", "n"), ("Retenir cette suggestion", "n"),
                         ("Motifs de l'absence d'allotissement", "Intervention unique en site occupé.")]
    fichier = tmp_path / "r.yaml"
    r = derouler(scenario, fichier)
    assert "Suggestion : Découper la consultation en lots (SPASER, obligation légale : action 11.1)" in r.sortie
    assert "La consultation ne comporte qu'un lot, de 1 200 000,00 € HT." in r.sortie
    donnees = yaml.safe_load(fichier.read_text(encoding="utf-8"))
    assert donnees["justifications"]["absence_allotissement"] == "Intervention unique en site occupé."


def test_verifier_signale_tous_les_problemes_avec_leur_ligne(tmp_path):
    faux = tmp_path / "faux.yaml"
    faux.write_text(
        'acheteur: occitanie\nreference: "T-1"\nobjet: "Fournitures"\nnature: fourniture\ncpv: "ABC"\n'
        'date_lancement: 2026-12-01\ndate_limite_offres: "2027-01-15 12:00"\nduree_mois: 0\n'
        'lots:\n  - numero: 1\n    intitule: "Papier"\n    montant_estime: -5\n'
        'criteres:\n  - {intitule: "Prix", ponderation: 100, type: prix}\n', encoding="utf-8")
    resultat = CliRunner().invoke(main, ["verifier", str(faux)])
    assert resultat.exit_code == 2
    sortie = normal(resultat.output)
    assert "4 problèmes" in sortie
    # chaque problème désigne sa question avec les mots du questionnaire, jamais par sa clé interne
    assert ("ligne 4 : Nature du marché : valeur « fourniture » non autorisée ; valeurs possibles : travaux "
            "(Travaux), fournitures (Fournitures), services (Services)") in sortie
    assert "ligne 5 : Code CPV principal : format invalide « ABC »" in sortie
    assert "ligne 8 : Durée du marché (en mois) : valeur 0 trop petite" in sortie
    assert "ligne 12 : Lot 1 — Montant estimé du lot (€ HT) : valeur -5 trop petite" in sortie
    assert "lots.0" not in sortie and "« duree_mois »" not in sortie


def test_verifier_un_fichier_valide_et_une_obligation_manquee(tmp_path):
    resultat = CliRunner().invoke(main, ["verifier", str(EXEMPLES / "travaux-lycee.yaml")])
    assert resultat.exit_code == 0, resultat.output
    assert "fichier valide (5 lots" in normal(resultat.output)
    services = ecrire(tmp_path, base_reponses(
        nature="services", categorie="nettoyage", cpv="90911200-8", duree_mois=36,
        lots=[{"numero": 1, "intitule": "Nord", "montant_estime": 150000},
              {"numero": 2, "intitule": "Sud", "montant_estime": 450000}]))
    resultat = CliRunner().invoke(main, ["verifier", str(services)])
    assert resultat.exit_code == 1
    sortie = normal(resultat.output)
    assert "À JUSTIFIER – Clause d'insertion par l'activité économique" in sortie
    assert "motiver le refus dans la réponse « Justification de l'absence de condition d'exécution sociale »" in sortie
    assert "NON CONFORME" in sortie


def test_restauration_collective_parts_egalim_et_plastique_imposees_ou_justifiees(tmp_path):
    """Denrées de restauration collective : les parts EGalim (code rural L230-5-1) sont imposées par défaut, un refus
    se justifie ; le service de restauration scolaire y ajoute l'interdiction des contenants en plastique."""
    def a_justifier(donnees: dict, nom: str) -> list[str]:
        sortie = normal(CliRunner().invoke(main, ["verifier", str(ecrire(tmp_path, donnees, nom))]).output)
        return [l for l in sortie.splitlines() if l.strip().startswith("À JUSTIFIER")]

    denrees = base_reponses(nature="fournitures", categorie="restauration_collective", cpv="15000000-8",
                            lots=[{"numero": 1, "intitule": "Fruits et légumes", "montant_estime": 80000},
                                  {"numero": 2, "intitule": "Épicerie", "montant_estime": 60000}])
    refus = a_justifier(denrees, "d.yaml")
    assert any("Produits durables et de qualité, dont biologiques (EGalim)" in l
               and "« Motifs de l'absence des parts EGalim dans ce marché »" in l for l in refus), refus
    assert not any("plastique" in l for l in refus)  # des denrées seules : pas de contenants de service

    denrees["justifications"] = {"absence_egalim": "Parts atteintes par le lot épicerie bio, marché 2026-FCS-0213."}
    assert not any("EGalim" in l for l in a_justifier(denrees, "j.yaml"))

    service = {**denrees, "nature": "services", "cpv": "55524000-9", "justifications": {}}
    refus = a_justifier(service, "s.yaml")
    assert any("Aucun contenant alimentaire ni emballage en plastique à usage unique" in l for l in refus), refus
    service["spaser"] = {"alimentation_durable": {"actif": True}, "plastique_usage_unique": True}
    assert not any("EGalim" in l or "plastique" in l for l in a_justifier(service, "r.yaml"))


def test_expliquer_dit_pourquoi_chaque_clause_est_la(tmp_path):
    services = ecrire(tmp_path, base_reponses(
        nature="services", categorie="nettoyage", cpv="90911200-8", duree_mois=36,
        lots=[{"numero": 1, "intitule": "Nord", "montant_estime": 150000},
              {"numero": 2, "intitule": "Sud", "montant_estime": 450000}],
        spaser={"ecolabels": {"actif": True, "familles": ["produits_nettoyage"]}}))
    resultat = CliRunner().invoke(main, ["expliquer", str(services)])
    assert resultat.exit_code == 0, resultat.output
    sortie = normal(resultat.output)
    assert not list((tmp_path).glob("*.docx")), "expliquer n'écrit aucun document"
    retenues, reste = sortie.split("Clauses écartées", 1)
    ecartees, reste = reste.split("Actions du SPASER", 1)
    assert "Allotissement (rc-lots, v1 ; action 11.1)" in retenues
    assert "règle : allotie → allotie = oui" in retenues
    assert "Produits écolabellisés (cctp-ecolabels" in retenues
    assert "(ccap-insertion, v1)" in ecartees
    assert "règle : lot.insertion_lot → lot.insertion_lot = lot 1 : non, lot 2 : non" in ecartees
    assert "1.3 Mettre en œuvre la préservation des milieux" in reste
    assert "avance_taux_pme = 20 %" in reste and "seuil_europeen = 216 000,00 € HT  (CCP R2124-1" in reste
    assert "[retenue] Produits de nettoyage écolabellisés (mise en œuvre au-delà du droit : actions 1.2 et 1.3)" in reste
    assert "[refusée] Produits sans perturbateurs endocriniens (mise en œuvre au-delà du droit : actions 1.2, 1.3 et 1.4)" in reste
    # au-delà du seuil européen depuis le 22 août 2026, la clause d'insertion répond à une obligation légale (6.2) ;
    # son suivi (6.3) va au-delà : chaque suggestion dit le niveau de chaque action, comme la fiche SPASER
    assert ("Clause d'insertion par l'activité économique (mise en œuvre au-delà du droit : action 6.3 ; "
            "obligation légale : action 6.2)") in reste
    droit, cibles = reste.split("Écarts au droit", 1)[1].split("Écarts aux cibles de l'acheteur", 1)
    assert ("lot 2 : 450 000,00 € HT, aucune clause sociale alors que le marché dépasse le seuil européen "
            "(600 000,00 € HT pour un seuil de 216 000,00 € HT)") in droit
    assert "cible « Part des marchés annuels notifiés de plus de 100 000 € HT comprenant une clause sociale » : " \
           "30 % des marchés annuels notifiés en 2026" in cibles
    # typographie française au terminal
    assert f"lot 2{INS}: 450{INS}000,00{INS}€{INS}HT" in resultat.output


def test_questionnaire_schema_json(tmp_path):
    resultat = CliRunner().invoke(main, ["questionnaire", "schema"])
    assert resultat.exit_code == 0, resultat.output
    schema = json.loads(resultat.output)
    Draft202012Validator.check_schema(schema)
    validateur = Draft202012Validator(schema)
    for exemple in sorted(EXEMPLES.glob("*.yaml")):
        donnees = json.loads(json.dumps(yaml.safe_load(exemple.read_text(encoding="utf-8")), default=str))
        assert not list(validateur.iter_errors(donnees)), exemple.name
    assert list(validateur.iter_errors({"reference": "T"})), "un fichier incomplet est refusé"
    sortie = tmp_path / "schema.json"
    resultat = CliRunner().invoke(main, ["questionnaire", "schema", "--sortie", str(sortie)])
    assert resultat.exit_code == 0 and json.loads(sortie.read_text(encoding="utf-8")) == schema


def test_suggestions_selon_la_famille_le_cpv_et_le_montant(tmp_path):
    liste = suggestions.charger(RACINE / "questionnaire.yaml")

    def proposees(**modifs) -> dict[str, bool]:
        analyse = preparer(ecrire(tmp_path, base_reponses(**modifs)), RACINE)
        return {e.suggestion.id: e.retenue for e in suggestions.etats(liste, analyse.contexte)}

    cantine = proposees(categorie="autre", cpv="15800000-6")  # la division CPV 15 suffit
    assert {"alimentation_durable", "commerce_equitable", "plastique"} <= set(cantine)
    informatique = proposees(categorie="informatique", cpv="30213100-6")
    assert {"reemploi_informatique", "ecolabels_informatique"} <= set(informatique)
    assert "insertion" not in informatique  # fournitures sous le seuil européen
    restauration = preparer(EXEMPLES / "restauration-lycees.yaml", RACINE)
    suivies = {e.suggestion.id: e.retenue for e in suggestions.etats(liste, restauration.contexte)}
    assert suivies["alimentation_durable"] and suivies["commerce_equitable"] and suivies["plastique"]


def test_suggestions_citent_des_actions_et_des_reponses_existantes():
    q = questionnaire.charger(RACINE / "questionnaire.yaml")
    from generateur.donnees.acheteurs import charger as charger_acheteur

    actions = charger_acheteur(RACINE, "occitanie").actions
    for s in suggestions.charger(RACINE / "questionnaire.yaml"):
        assert s.actions and all(a in actions and actions[a].dce for a in s.actions), s.id
        for chemin in s.active:
            assert q.question(chemin) is not None, (s.id, chemin)
        if s.cible:
            assert s.cible in charger_acheteur(RACINE, "occitanie").profil["politique"]["cibles"], s.id


def test_suggestion_mal_ecrite_signalee_avec_sa_ligne(tmp_path):
    copie = tmp_path / "questionnaire.yaml"
    texte = (RACINE / "questionnaire.yaml").read_text(encoding="utf-8")
    copie.write_text(texte.replace("active: {spaser.filiere_btp: true}", "active: {spaser.filiere_bpt: true}")
                     .replace("quand: \"nature == 'travaux' and categorie != 'travaux_publics'\"",
                              "quand: \"nature == (\""), encoding="utf-8")
    with pytest.raises(ErreurDonnees) as exc:
        suggestions.charger(copie)
    messages = [str(p) for p in exc.value.problemes]
    ligne = texte[: texte.index("active: {spaser.filiere_btp: true}")].count("\n") + 1
    assert any(f"ligne {ligne}" in m and "réponse « spaser.filiere_bpt » absente du questionnaire" in m
               for m in messages), messages
    assert any("expression illisible" in m and "quand" in m for m in messages), messages


def test_exigences_des_variantes_demandees_seulement_si_elles_ne_sont_pas_refusees(tmp_path):
    scenario = list(TRAVAUX)
    scenario.insert(scenario.index(("Lot 1 – Intitulé", "Gros œuvre")), ("Autoriser les variantes", "n"))
    r = derouler(scenario, tmp_path / "r.yaml")
    assert not any(ligne.startswith("Exigences minimales des variantes") for ligne in r.journal)
    autorisees = list(TRAVAUX)
    autorisees.insert(autorisees.index(("Lot 1 – Intitulé", "Gros œuvre")), ("Autoriser les variantes", "o"))
    r = derouler(autorisees, tmp_path / "a.yaml")
    assert any(ligne.startswith("Exigences minimales des variantes") for ligne in r.journal)


def test_marche_sans_publicite_demande_son_motif_et_ses_faits(tmp_path):
    """Le motif (liste du code) et les faits qui le justifient ne sont demandés que pour un marché sans publicité ;
    le RC produit dit le motif et son article."""
    scenario = list(TRAVAUX)
    avant = scenario.index(("Lot 1 – Intitulé", "Gros œuvre"))
    scenario[avant:avant] = [("Procédure (si différente", "sans_publicite"),
                             ("Motif du marché sans publicité ni mise en concurrence", "urgence"),
                             ("Faits qui justifient le marché sans publicité", "Effondrement du préau le 20 novembre 2026.")]
    fichier = tmp_path / "urgence.yaml"
    r = derouler(scenario, fichier)
    donnees = yaml.safe_load(fichier.read_text(encoding="utf-8"))
    assert donnees["procedure_choisie"] == "sans_publicite" and donnees["motif_sans_publicite"] == "urgence"
    assert donnees["justifications"]["sans_publicite"].startswith("Effondrement")
    assert "Urgence impérieuse (R2122-1)" in r.sortie  # la liste des motifs, avec leur article
    sortie = normal(CliRunner().invoke(main, ["--catalogue", str(RACINE), "expliquer", str(fichier)]).output)
    assert "Urgence impérieuse résultant de circonstances extérieures" in sortie and "R2122-1" in sortie

    ordinaire = tmp_path / "ordinaire.yaml"
    r = derouler(TRAVAUX, ordinaire)
    assert not any("Motif du marché sans publicité" in ligne or "Faits qui justifient" in ligne for ligne in r.journal)


def test_verifier_signale_accord_cadre_de_cinq_ans_et_delai_de_dix_jours(tmp_path):
    """Les deux cas relevés par le juriste (issue 16) : accord-cadre de 60 mois sans justification, appel d'offres
    ouvert avec 10 jours de délai de réception ; justifiés, le premier passe, le second reste sous 15 jours."""
    donnees = base_reponses(forme="accord_cadre_bons_commande", duree_mois=60, date_lancement="2026-12-01",
                            date_limite_offres="2026-12-11 12:00",
                            lots=[{"numero": 1, "intitule": "Papier", "montant_estime": 250000},
                                  {"numero": 2, "intitule": "Enveloppes", "montant_estime": 90000}])
    resultat = CliRunner().invoke(main, ["verifier", str(ecrire(tmp_path, donnees))])
    sortie = normal(resultat.output)
    assert resultat.exit_code == 1, sortie
    assert "NON CONFORME – L'accord-cadre ne dépasse pas quatre ans" in sortie
    assert "Accord-cadre de 60 mois, reconductions comprises : au-delà de 48 mois" in sortie
    assert "NON CONFORME – Le délai de réception des plis ou des candidatures respecte le minimum de la procédure formalisée" in sortie
    assert "10 jours seulement entre le lancement le 1er décembre 2026 et la remise des plis" in sortie
    donnees["justifications"] = {"duree_accord_cadre": "Investissements amortis sur cinq ans.",
                                 "urgence_delai": "Rupture d'approvisionnement."}
    sortie = normal(CliRunner().invoke(main, ["verifier", str(ecrire(tmp_path, donnees, "j.yaml"))]).output)
    assert "NON CONFORME – L'accord-cadre ne dépasse pas quatre ans" not in sortie
    assert "NON CONFORME – Le délai de réception des plis" in sortie and "jamais moins de 15 jours" in sortie
def test_code_cpv_cherche_par_mot_et_nature_comparee(tmp_path):
    """« peinture » à la question du code CPV : les codes de la nature répondue (travaux) d'abord, choisis par leur
    numéro ; un code d'une autre nature que celle répondue est signalé (règle d_apres_cpv du questionnaire)."""
    scenario = list(TRAVAUX)
    i = scenario.index(("Code CPV principal", "45454000-4"))
    scenario[i:i + 1] = [("Code CPV principal", "peinture"), ("Numéro du code retenu", "1")]
    fichier = tmp_path / "r.yaml"
    r = derouler(scenario, fichier)
    assert "1. 45442100-8  Travaux de peinture" in r.sortie
    assert yaml.safe_load(fichier.read_text(encoding="utf-8"))["cpv"] == "45442100-8"
    assert "désigne d'ordinaire" not in r.sortie

    scenario[i:i + 2] = [("Code CPV principal", "90910000-9")]
    r = derouler(scenario, tmp_path / "r2.yaml")
    assert ("Nature du marché : le code 90910000-9 désigne d'ordinaire « Services », la réponse donnée est "
            "« Travaux » ; à vérifier") in normal(r.sortie)


def test_nature_proposee_d_apres_le_code_cpv_deja_connu(tmp_path):
    """Fichier repris sans nature mais avec un code CPV de travaux : la nature proposée par défaut est « Travaux »."""
    texte = (EXEMPLES / "travaux-lycee.yaml").read_text(encoding="utf-8")
    assert "nature: travaux\n" in texte
    original = tmp_path / "sans-nature.yaml"
    original.write_text(texte.replace("nature: travaux\n", ""), encoding="utf-8")
    r = derouler([("Nature du marché (numéro) [Travaux]", ""), ("Enregistrer dans", "")], original, existant=original)
    assert yaml.safe_load(original.read_text(encoding="utf-8"))["nature"] == "travaux"
    assert "Nature du marché (numéro) [Travaux]" in r.sortie
