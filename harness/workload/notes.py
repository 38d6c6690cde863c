"""The text a practitioner writes during one consultation, generated from a seeded random source.

An exam report has a vitals line (TA, FC, T°, SpO2, poids), the history of the complaint and the
findings; its length follows a spread close to real notes: mostly a few hundred characters, a
quarter around one or two thousand, and one in seven a long report of several thousand characters
(a full work-up with lab results). All numbers use the French decimal comma.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from ackguard.harness.workload.catalogue import Specialty

__all__ = ["ConsultationNotes", "visit_reason", "write_notes"]

_GENERAL_HISTORY = (
    "Le patient rapporte une gêne progressive, sans facteur déclenchant clairement identifié.",
    "Les symptômes sont majorés en fin de journée et retentissent sur l'activité professionnelle.",
    "Pas de perte de poids, pas de sueurs nocturnes, appétit conservé.",
    "Pas d'allergie médicamenteuse connue.",
    "Vaccinations à jour, dernier rappel dTP il y a six ans.",
    "Vit en couple, deux enfants, travaille comme aide-soignant(e) en horaires décalés.",
    "Activité physique régulière : marche quarante minutes trois fois par semaine.",
    "A consulté aux urgences il y a dix jours, compte rendu apporté ce jour.",
    "Automédication par paracétamol avec un soulagement partiel.",
    "Pas de douleur thoracique, pas de dyspnée, pas de palpitations.",
    "Le traitement introduit lors de la précédente consultation a été bien toléré.",
    "Antécédents familiaux : diabète de type 2 chez la mère, cardiopathie ischémique chez le père.",
)
_WORKUP = (
    "Ionogramme sanguin normal, natrémie à {na} mmol/l, kaliémie à {k} mmol/l.",
    "Créatininémie à {creat} µmol/l, DFG estimé à {dfg} ml/min/1,73 m².",
    "Hémoglobine à {hb} g/dl, leucocytes à {gb} G/l, plaquettes à {plq} G/l.",
    "CRP à {crp} mg/l.",
    "HbA1c à {hba1c} %.",
    "TSH à {tsh} mUI/l.",
    "LDL-cholestérol à {ldl} g/l, triglycérides à {tg} g/l.",
    "Ferritine à {ferr} µg/l, coefficient de saturation de la transferrine à {cst} %.",
)
_SYNTHESIS = (
    "Au total, tableau compatible avec le diagnostic retenu, sans signe de gravité à ce jour.",
    "Les éléments de surveillance ont été expliqués au patient, qui les a bien compris.",
    "Information donnée sur les signes devant amener à reconsulter sans délai.",
    "Courrier adressé au médecin traitant avec copie au patient.",
    "Décision partagée avec le patient après explication des bénéfices et des risques.",
    "Éducation thérapeutique réalisée, remise d'une fiche d'information.",
)
_FOLLOW_UP = (
    "Revoir dans {n} semaines ou avant si aggravation.",
    "Consultation de contrôle dans {n} mois.",
    "Bilan biologique à réaliser avant la prochaine consultation.",
    "Pas de suivi spécifique nécessaire.",
)
_AMENDMENTS = (
    "Addendum du {day} : résultats biologiques reçus, sans anomalie, traitement inchangé.",
    "Addendum du {day} : appel du patient, évolution favorable.",
    "Addendum du {day} : compte rendu d'imagerie reçu, conforme à l'hypothèse diagnostique.",
    "Addendum du {day} : correction de la posologie après avis du pharmacien.",
)


@dataclass(frozen=True, slots=True)
class ConsultationNotes:
    """Every text of one consultation. ``exam_reports`` holds one full report, or a partial
    draft and then the full report when the practitioner saves twice; ``amendment`` is the field
    amended later and its new value (``None`` clears it), or ``None`` when nothing is amended."""

    visit_reason: str
    exam_reports: tuple[str, ...]
    conclusion: str
    prescription: str | None
    amendment: tuple[str, str | None] | None


def write_notes(
    rng: random.Random, specialty: Specialty, day: date, *, amend_probability: float
) -> ConsultationNotes:
    reason = visit_reason(rng, specialty)
    report = _exam_report(rng, specialty, _report_length(rng))
    if rng.random() < 0.35:  # saved once mid-consultation, then completed
        cut = report.rfind("\n", 0, max(1, len(report) // 2))
        reports: tuple[str, ...] = (report[: cut if cut > 0 else len(report) // 2], report)
    else:
        reports = (report,)
    conclusion = (
        rng.choice(specialty.conclusions)
        + " "
        + rng.choice(_FOLLOW_UP).format(n=rng.choice((2, 3, 4, 6)))
    )
    prescription = None
    if rng.random() < specialty.prescription_rate:
        lines = rng.sample(
            specialty.prescriptions, k=min(len(specialty.prescriptions), rng.randint(1, 3))
        )
        prescription = "\n".join(f"- {line}" for line in lines)
    amendment = None
    if rng.random() < amend_probability:
        amendment = _amendment(rng, day, report, conclusion, prescription)
    return ConsultationNotes(reason, reports, conclusion, prescription, amendment)


def visit_reason(rng: random.Random, specialty: Specialty) -> str:
    """The first text of a consultation, the first thing :func:`write_notes` draws."""
    return rng.choice(specialty.reasons)


def _report_length(rng: random.Random) -> int:
    """A target length in characters: 60 % short, 25 % medium, 15 % long."""
    draw = rng.random()
    if draw < 0.6:
        return rng.randint(250, 1000)
    if draw < 0.85:
        return rng.randint(1000, 2200)
    return rng.randint(2500, 7000)


def _vitals(rng: random.Random, specialty: Specialty) -> str:
    systolic = rng.randint(10, 16)
    diastolic = max(5, systolic - rng.randint(4, 7))
    weight = rng.randint(4, 40) if specialty.name == "pédiatrie" else rng.randint(48, 110)
    temperature = _decimal(rng.uniform(36.2, 39.4), 1)
    return (
        f"TA {systolic}/{diastolic}, FC {rng.randint(55, 110)}/min, T° {temperature} °C, "
        f"SpO2 {rng.randint(93, 100)} %, poids {weight} kg"
    )


def _decimal(value: float, places: int) -> str:
    return f"{value:.{places}f}".replace(".", ",")


_LAB_VALUES: dict[str, Callable[[random.Random], object]] = {
    "na": lambda r: r.randint(134, 145),
    "k": lambda r: _decimal(r.uniform(3.4, 5.2), 1),
    "creat": lambda r: r.randint(55, 140),
    "dfg": lambda r: r.randint(45, 110),
    "hb": lambda r: _decimal(r.uniform(10.5, 16.5), 1),
    "gb": lambda r: _decimal(r.uniform(4, 14), 1),
    "plq": lambda r: r.randint(150, 420),
    "crp": lambda r: r.randint(1, 90),
    "hba1c": lambda r: _decimal(r.uniform(5.4, 9.2), 1),
    "tsh": lambda r: _decimal(r.uniform(0.4, 5.5), 2),
    "ldl": lambda r: _decimal(r.uniform(0.7, 2.1), 2),
    "tg": lambda r: _decimal(r.uniform(0.5, 2.8), 2),
    "ferr": lambda r: r.randint(8, 400),
    "cst": lambda r: r.randint(10, 45),
}


def _lab_value(rng: random.Random, template: str) -> str:
    names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    return template.format(**{name: _LAB_VALUES[name](rng) for name in names})


def _exam_report(rng: random.Random, specialty: Specialty, target: int) -> str:
    parts = [f"Constantes : {_vitals(rng, specialty)}."]
    history = [*rng.sample(specialty.anamnesis, k=min(2, len(specialty.anamnesis)))]
    findings = rng.sample(specialty.findings, k=min(len(specialty.findings), rng.randint(2, 4)))
    parts.append("Anamnèse : " + " ".join(history))
    parts.append("Examen clinique : " + " ".join(findings))
    text = "\n".join(parts)
    if len(text) >= target:
        return text
    # Longer reports add the history of the illness, the work-up and a synthesis, drawing
    # sentences without repetition until the target length is reached.
    extra_history = [s for s in (*specialty.anamnesis, *_GENERAL_HISTORY) if s not in history]
    rng.shuffle(extra_history)
    sections: list[tuple[str, list[str]]] = [
        ("Histoire de la maladie", extra_history),
        (
            "Examens complémentaires",
            [_lab_value(rng, t) for t in rng.sample(_WORKUP, k=len(_WORKUP))],
        ),
        ("Examen détaillé", [f for f in specialty.findings if f not in findings]),
        ("Synthèse", rng.sample(_SYNTHESIS, k=len(_SYNTHESIS))),
    ]
    for title, sentences in sections:
        if len(text) >= target:
            break
        body: list[str] = []
        size = len(text)
        while sentences and size < target:
            sentence = sentences.pop()
            if title == "Examens complémentaires":
                sentence = _lab_value(rng, sentence)  # numbers drawn only for lines written
            body.append(sentence)
            size += len(sentence) + 1
        if body:
            text += f"\n{title} : " + " ".join(body)
    visit = 1
    while len(text) < target:  # the longest reports also recap earlier visits
        when = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}"
        recap = [*rng.sample(_GENERAL_HISTORY, k=3), rng.choice(specialty.findings)]
        text += f"\nRappel de la consultation n° {visit} du {when} : " + " ".join(recap)
        visit += 1
    return text


def _amendment(
    rng: random.Random, day: date, report: str, conclusion: str, prescription: str | None
) -> tuple[str, str | None]:
    note = rng.choice(_AMENDMENTS).format(
        day=(day + timedelta(days=rng.randint(0, 3))).strftime("%d/%m/%Y")
    )
    draw = rng.random()
    if prescription is not None and draw < 0.1:
        return ("prescription", None)  # the ordonnance was withdrawn
    if draw < 0.5:
        return ("conclusion", f"{conclusion}\n{note}")
    return ("exam_report", f"{report}\n{note}")
