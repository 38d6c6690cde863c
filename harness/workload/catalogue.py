"""What each specialty's consultations say: visit reasons, findings, conclusions, prescriptions.

Curated clinical French. A prescription line is a DCI (international non-proprietary name) with its
posology, as written on a French ordonnance. ``minutes`` is the consultation length range, ``ages``
the patients' age range in years and ``female_share`` the share of women among them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SPECIALTIES", "Specialty", "specialty_named"]


@dataclass(frozen=True, slots=True)
class Specialty:
    name: str
    weight: float
    minutes: tuple[int, int]
    ages: tuple[int, int]
    female_share: float
    prescription_rate: float
    reasons: tuple[str, ...]
    anamnesis: tuple[str, ...]
    findings: tuple[str, ...]
    conclusions: tuple[str, ...]
    prescriptions: tuple[str, ...]


SPECIALTIES: tuple[Specialty, ...] = (
    Specialty(
        name="médecine générale",
        weight=0.42,
        minutes=(12, 25),
        ages=(0, 95),
        female_share=0.55,
        prescription_rate=0.85,
        reasons=(
            "Fièvre et toux depuis trois jours",
            "Renouvellement d'ordonnance (HTA, dyslipidémie)",
            "Lombalgie aiguë après effort de soulèvement",
            "Certificat de non contre-indication au sport",
            "Douleurs abdominales et diarrhée",
            "Suivi de diabète de type 2",
            "Fatigue persistante",
            "Mal de gorge et odynophagie",
            "Vaccination antigrippale",
            "Céphalées récurrentes",
            "Brûlures mictionnelles",
            "Éruption cutanée prurigineuse",
            "Insomnie et anxiété",
        ),
        anamnesis=(
            "Patient(e) connu(e) du cabinet, vient seul(e).",
            "Début des symptômes il y a environ 72 heures, sans notion de contage identifié.",
            "Pas de voyage récent. Pas de prise d'anti-inflammatoires en automédication.",
            "Antécédents : HTA traitée depuis 2018, appendicectomie dans l'enfance.",
            "Tabagisme sevré depuis cinq ans (20 PA). Consommation d'alcool occasionnelle.",
            "Traitement habituel bien toléré, observance déclarée bonne.",
        ),
        findings=(
            "Auscultation cardio-pulmonaire normale, murmure vésiculaire symétrique.",
            "Abdomen souple, dépressible, indolore, pas d'hépatosplénomégalie.",
            "Oropharynx érythémateux sans dépôt, pas d'adénopathie cervicale.",
            "Contracture paravertébrale lombaire droite, Lasègue négatif, pas de déficit.",
            "Examen neurologique sans particularité, pas de raideur méningée.",
            "Tympans normaux des deux côtés.",
            "Pas d'œdème des membres inférieurs, mollets souples.",
            "Fosses lombaires libres, bandelette urinaire : leucocytes +, nitrites +.",
        ),
        conclusions=(
            "Rhinopharyngite virale probable, traitement symptomatique.",
            "Lombalgie commune aiguë sans signe de gravité.",
            "Cystite aiguë simple.",
            "HTA équilibrée sous traitement, poursuite à l'identique.",
            "Diabète de type 2 : HbA1c à 7,4 %, renforcement des règles hygiéno-diététiques.",
            "Angine à TDR négatif, pas d'antibiothérapie.",
            "Gastro-entérite aiguë, réhydratation orale, arrêt de travail de deux jours.",
        ),
        prescriptions=(
            "Paracétamol 1 g, 1 comprimé jusqu'à 3 fois par jour pendant 5 jours",
            "Ibuprofène 400 mg, 1 comprimé 3 fois par jour au cours des repas pendant 3 jours",
            "Fosfomycine trométamol 3 g, 1 sachet en prise unique",
            "Amlodipine 5 mg, 1 comprimé le matin, 3 mois",
            "Metformine 1000 mg, 1 comprimé matin et soir, 3 mois",
            "Atorvastatine 20 mg, 1 comprimé le soir, 3 mois",
            "Thiocolchicoside 4 mg, 1 comprimé matin et soir pendant 5 jours",
            "Racécadotril 100 mg, 1 gélule 3 fois par jour pendant 3 jours",
        ),
    ),
    Specialty(
        name="pédiatrie",
        weight=0.1,
        minutes=(15, 30),
        ages=(0, 17),
        female_share=0.49,
        prescription_rate=0.7,
        reasons=(
            "Fièvre à 39 °C depuis 48 heures",
            "Examen du 9e mois",
            "Otalgie nocturne",
            "Toux persistante et sifflements",
            "Bilan de croissance",
            "Vomissements et diarrhée",
            "Éruption fébrile",
            "Vaccinations du calendrier",
            "Troubles du sommeil",
        ),
        anamnesis=(
            "Enfant accompagné(e) de sa mère. Carnet de santé consulté.",
            "Vaccinations à jour selon le calendrier en vigueur.",
            "Alimentation diversifiée, bon appétit, transit régulier.",
            "Mode de garde : crèche, plusieurs enfants malades dans la section.",
            "Pas d'antécédent notable, grossesse et accouchement sans particularité.",
        ),
        findings=(
            "Courbes de poids et de taille régulières, sur le couloir +1 DS.",
            "Tympan droit bombé et congestif, tympan gauche normal.",
            "Sibilants expiratoires diffus, pas de signe de lutte.",
            "Fontanelle normotendue, bon contact, enfant tonique.",
            "Éruption maculo-papuleuse du tronc, pas de purpura.",
            "Abdomen souple, pas de signe de déshydratation, TRC < 2 s.",
            "Développement psychomoteur conforme à l'âge.",
        ),
        conclusions=(
            "Otite moyenne aiguë purulente droite.",
            "Bronchiolite sans critère de gravité.",
            "Examen du 9e mois normal, certificat de santé rempli.",
            "Gastro-entérite virale sans déshydratation.",
            "Virose éruptive bénigne probable.",
            "Asthme du nourrisson, mise en place d'un traitement de fond.",
        ),
        prescriptions=(
            "Paracétamol suspension buvable 2,4 %, 1 dose-poids toutes les 6 heures si fièvre",
            "Amoxicilline 250 mg/5 ml, 80 mg/kg/j en 2 prises pendant 8 jours",
            "Salbutamol 100 µg/dose avec chambre d'inhalation, 2 bouffées 4 fois par jour",
            "Soluté de réhydratation orale, à volonté par petites quantités",
            "Sérum physiologique, lavages de nez 4 à 6 fois par jour",
            "Vitamine D3 100 000 UI, 1 ampoule tous les 3 mois",
        ),
    ),
    Specialty(
        name="cardiologie",
        weight=0.1,
        minutes=(20, 40),
        ages=(35, 92),
        female_share=0.42,
        prescription_rate=0.9,
        reasons=(
            "Douleur thoracique d'effort",
            "Palpitations",
            "Suivi d'insuffisance cardiaque",
            "Bilan préopératoire",
            "HTA résistante",
            "Dyspnée d'effort NYHA II",
            "Suivi après pose de stent",
            "Fibrillation atriale paroxystique",
        ),
        anamnesis=(
            "Facteurs de risque : HTA, dyslipidémie, tabagisme actif à 10 cigarettes par jour.",
            "Angioplastie de l'IVA avec pose d'un stent actif il y a deux ans.",
            "Pas de douleur thoracique de repos, pas de syncope.",
            "Œdèmes vespéraux des chevilles depuis quelques semaines.",
            "Auto-mesure tensionnelle : moyenne 14/9 sur trois jours.",
        ),
        findings=(
            "Bruits du cœur réguliers, souffle systolique 2/6 au foyer aortique.",
            "ECG : rythme sinusal à 68/min, PR 160 ms, QRS fins, repolarisation normale.",
            "ECG : fibrillation atriale à réponse ventriculaire rapide à 112/min.",
            "Pouls périphériques perçus et symétriques, pas de souffle carotidien.",
            "Crépitants aux deux bases, turgescence jugulaire, reflux hépato-jugulaire.",
            "Échocardiographie : FEVG à 55 %, pas de valvulopathie significative.",
        ),
        conclusions=(
            "Angor stable, coronarographie à programmer.",
            "HTA essentielle mal contrôlée.",
            "Fibrillation atriale paroxystique, CHA2DS2-VASc à 3, anticoagulation indiquée.",
            "Insuffisance cardiaque à FE préservée stable.",
            "Pas de contre-indication cardiologique à la chirurgie programmée.",
        ),
        prescriptions=(
            "Bisoprolol 2,5 mg, 1 comprimé le matin",
            "Apixaban 5 mg, 1 comprimé matin et soir",
            "Ramipril 5 mg, 1 comprimé le matin, contrôle kaliémie et créatinine à 10 jours",
            "Acide acétylsalicylique 75 mg, 1 sachet par jour au cours du repas",
            "Furosémide 40 mg, 1 comprimé le matin",
            "Rosuvastatine 10 mg, 1 comprimé le soir",
        ),
    ),
    Specialty(
        name="dermatologie",
        weight=0.08,
        minutes=(10, 20),
        ages=(1, 90),
        female_share=0.6,
        prescription_rate=0.8,
        reasons=(
            "Contrôle des grains de beauté",
            "Acné inflammatoire",
            "Eczéma des mains",
            "Plaques squameuses des coudes",
            "Lésion pigmentée qui a changé d'aspect",
            "Chute de cheveux",
            "Verrues plantaires",
            "Prurit généralisé",
        ),
        anamnesis=(
            "Phototype III, expositions solaires importantes dans l'enfance.",
            "Antécédent familial de mélanome chez le père.",
            "Évolution par poussées depuis l'adolescence.",
            "Traitements locaux antérieurs peu efficaces.",
        ),
        findings=(
            "Dermoscopie : réseau pigmentaire régulier, pas de critère de malignité.",
            "Lésion asymétrique de 7 mm, polychrome, bords irréguliers.",
            "Papules et pustules du visage, comédons ouverts et fermés.",
            "Plaques érythémato-squameuses bien limitées des coudes et des genoux.",
            "Lichénification et fissures de la face palmaire des deux mains.",
            "Pas d'adénopathie axillaire ni inguinale.",
        ),
        conclusions=(
            "Nævus bénins, surveillance annuelle.",
            "Lésion suspecte, exérèse programmée.",
            "Acné modérée.",
            "Psoriasis en plaques modéré.",
            "Eczéma de contact probable, tests épicutanés.",
        ),
        prescriptions=(
            "Adapalène/peroxyde de benzoyle gel, 1 application le soir pendant 3 mois",
            "Doxycycline 100 mg, 1 comprimé par jour au milieu du repas pendant 3 mois",
            "Bétaméthasone crème 0,05 %, 1 application par jour pendant 10 jours puis décroissance",
            "Émollient, 2 applications par jour sur tout le corps",
            "Calcipotriol/bétaméthasone gel, 1 application par jour pendant 4 semaines",
        ),
    ),
    Specialty(
        name="psychiatrie",
        weight=0.08,
        minutes=(30, 45),
        ages=(16, 85),
        female_share=0.58,
        prescription_rate=0.6,
        reasons=(
            "Suivi d'un épisode dépressif caractérisé",
            "Attaques de panique",
            "Troubles du sommeil et ruminations",
            "Suivi de trouble bipolaire",
            "Épuisement professionnel",
            "Réévaluation du traitement",
        ),
        anamnesis=(
            "Vit seul(e) depuis la séparation, en arrêt de travail depuis six semaines.",
            "Pas d'idée suicidaire exprimée, pas de scénario, entourage présent.",
            "Sommeil fragmenté avec réveils précoces vers 4 heures.",
            "Consommation d'alcool en augmentation, deux verres par soir.",
        ),
        findings=(
            "Contact de bonne qualité, discours cohérent, pas d'élément délirant.",
            "Humeur triste, aboulie, anhédonie partielle, ralentissement psychomoteur modéré.",
            "Anxiété flottante, tension interne, pas de trouble du cours de la pensée.",
            "Amélioration thymique nette depuis la dernière consultation.",
            "Score PHQ-9 à 14, en baisse par rapport au précédent (19).",
        ),
        conclusions=(
            "Épisode dépressif d'intensité modérée en amélioration.",
            "Trouble panique, poursuite de la psychothérapie.",
            "Trouble bipolaire de type II stabilisé.",
            "Syndrome d'épuisement professionnel.",
        ),
        prescriptions=(
            "Sertraline 50 mg, 1 comprimé le matin, 28 jours",
            "Escitalopram 10 mg, 1 comprimé le matin",
            "Hydroxyzine 25 mg, 1 comprimé au coucher si besoin",
            "Lithium 400 mg LP, 1 comprimé le soir, lithiémie à 5 jours",
        ),
    ),
    Specialty(
        name="gynécologie",
        weight=0.08,
        minutes=(15, 30),
        ages=(15, 85),
        female_share=1.0,
        prescription_rate=0.75,
        reasons=(
            "Suivi gynécologique annuel et frottis",
            "Renouvellement de contraception",
            "Suivi de grossesse (2e trimestre)",
            "Troubles du cycle",
            "Bouffées de chaleur",
            "Douleurs pelviennes",
            "Consultation préconceptionnelle",
        ),
        anamnesis=(
            "G2P2, deux accouchements par voie basse.",
            "Cycles réguliers de 28 jours.",
            "Dernier frottis il y a trois ans, normal.",
            "Ménopause depuis deux ans, pas de THM.",
        ),
        findings=(
            "Examen des seins : pas de nodule palpable, pas d'écoulement.",
            "Col macroscopiquement sain, frottis cervico-utérin réalisé.",
            "Utérus de taille normale, annexes libres, pas de masse.",
            "Hauteur utérine à 24 cm, BCF présents à 145/min.",
            "Échographie : endomètre fin, ovaires sans particularité.",
        ),
        conclusions=(
            "Examen gynécologique normal.",
            "Grossesse évolutive de 24 SA sans particularité.",
            "Syndrome climatérique gênant.",
            "Dysménorrhée, suspicion d'endométriose, IRM pelvienne.",
        ),
        prescriptions=(
            "Lévonorgestrel/éthinylestradiol 100/20 µg, 1 comprimé par jour, 12 mois",
            "Acide folique 0,4 mg, 1 comprimé par jour",
            "Fer (sulfate ferreux) 80 mg, 1 comprimé par jour pendant 3 mois",
            "Estradiol gel 0,06 %, 1 dose par jour 25 jours par mois",
            "Progestérone 100 mg, 1 capsule le soir 12 jours par mois",
        ),
    ),
    Specialty(
        name="rhumatologie",
        weight=0.07,
        minutes=(20, 35),
        ages=(25, 92),
        female_share=0.62,
        prescription_rate=0.85,
        reasons=(
            "Douleurs articulaires inflammatoires des mains",
            "Gonalgie mécanique",
            "Suivi de polyarthrite rhumatoïde",
            "Lombosciatique",
            "Crise de goutte",
            "Résultat d'ostéodensitométrie",
        ),
        anamnesis=(
            "Raideur matinale de plus d'une heure.",
            "Douleurs mécaniques majorées à la montée des escaliers.",
            "Méthotrexate depuis 2021, bien toléré.",
            "Fracture du poignet après une chute de sa hauteur.",
        ),
        findings=(
            "Synovites des 2e et 3e MCP bilatérales.",
            "Genou droit sec, crépitements rotuliens.",
            "Gros orteil gauche rouge, chaud, très douloureux.",
            "DAS28 à 3,1.",
            "Radiographies : pincement fémoro-tibial interne.",
            "T-score rachidien à -2,8.",
        ),
        conclusions=(
            "Polyarthrite rhumatoïde en faible activité.",
            "Gonarthrose interne droite.",
            "Accès goutteux aigu.",
            "Ostéoporose fracturaire, traitement anti-ostéoporotique.",
        ),
        prescriptions=(
            "Méthotrexate 15 mg, 1 fois par semaine le lundi",
            "Acide folique 5 mg, 1 comprimé par semaine le surlendemain du méthotrexate",
            "Colchicine 1 mg, 1 comprimé par jour pendant 7 jours",
            "Acide alendronique 70 mg, 1 comprimé par semaine à jeun",
            "Kétoprofène gel 2,5 %, 2 applications par jour pendant 7 jours",
        ),
    ),
    Specialty(
        name="pneumologie",
        weight=0.07,
        minutes=(20, 35),
        ages=(18, 90),
        female_share=0.45,
        prescription_rate=0.8,
        reasons=(
            "Suivi de BPCO",
            "Toux chronique",
            "Asthme mal contrôlé",
            "Apnées du sommeil suspectées",
            "Nodule pulmonaire de découverte fortuite",
            "Dyspnée d'effort",
        ),
        anamnesis=(
            "Tabagisme actif à 35 paquets-années.",
            "Deux exacerbations l'hiver dernier.",
            "Ronflements et somnolence diurne, Epworth à 14.",
            "Exposition professionnelle à l'amiante.",
        ),
        findings=(
            "Murmure vésiculaire diminué aux deux bases, sibilants expiratoires.",
            "EFR : VEMS à 62 % de la théorique, rapport de Tiffeneau à 0,58.",
            "Pas d'hippocratisme digital, pas de cyanose.",
            "Scanner : nodule de 6 mm du lobe supérieur droit.",
        ),
        conclusions=(
            "BPCO stade GOLD 2, réhabilitation respiratoire proposée.",
            "Asthme partiellement contrôlé.",
            "Syndrome d'apnées du sommeil probable, polygraphie prescrite.",
            "Nodule pulmonaire à surveiller, scanner à 12 mois.",
        ),
        prescriptions=(
            "Tiotropium 2,5 µg, 2 bouffées une fois par jour",
            "Budésonide/formotérol 200/6 µg, 1 inhalation matin et soir",
            "Salbutamol 100 µg, 2 bouffées à la demande",
            "Varénicline 0,5 mg puis 1 mg selon schéma de titration, 12 semaines",
        ),
    ),
)


def specialty_named(name: str) -> Specialty:
    for specialty in SPECIALTIES:
        if specialty.name == name:
            return specialty
    raise KeyError(f"unknown specialty {name!r}")
