//! The reasons of an ingest, in plain French: what each check found, said to the producer's
//! secretary who must correct the transfer and send it again. The archive's reasons carry a
//! step (Vitam's names), a code and a technical message in English (what the API and the
//! ATR give, and what a developer of the producing software needs): the page shows the
//! French explanation first and keeps the technical message as a detail.

/// What a reason means and what to do about it, by its code (then by its step for a code
/// this table does not name).
pub(crate) fn explain(step: &str, code: &str) -> &'static str {
    match code {
        // The container.
        "CONTAINER_FORMAT" | "CONTAINER_CORRUPT" => {
            "Le fichier envoyé n’est pas une archive zip ou tar lisible. Recréez l’archive du versement avec votre logiciel, puis envoyez-la de nouveau."
        }
        "CONTAINER_BOMB" | "CONTAINER_LIMIT" => {
            "Le fichier envoyé dépasse ce que l’archive accepte (nombre de fichiers, taille décompressée ou taux de compression). Découpez le versement en plusieurs envois."
        }
        "NO_MANIFEST" => {
            "Le versement ne contient pas de bordereau (manifest.xml ou fichier XML à la racine). Ajoutez le bordereau SEDA du versement, puis envoyez-le de nouveau."
        }
        "SEVERAL_MANIFESTS" => {
            "Le versement contient plusieurs bordereaux : il n’en faut qu’un, à la racine."
        }
        "SEVERAL_CONTENT_FOLDERS" | "UNEXPECTED_ENTRY" => {
            "Le versement contient des fichiers ou dossiers inattendus à sa racine : n’y laissez que le bordereau et le dossier des fichiers (content)."
        }
        "PATH_TRAVERSAL"
        | "ABSOLUTE_PATH"
        | "INVALID_PATH"
        | "FORBIDDEN_CHARACTER"
        | "NAME_TOO_LONG"
        | "DUPLICATE_ENTRY"
        | "LINK_OR_SPECIAL" => {
            "Un nom de fichier du versement n’est pas acceptable (chemin hors du versement, caractère interdit, nom trop long, doublon ou lien). Renommez le fichier en cause, puis envoyez de nouveau."
        }
        // The manifest.
        "NOT_XML_FILE" | "NOT_ARCHIVE_TRANSFER" => {
            "Le bordereau n’est pas un message ArchiveTransfer SEDA en XML bien formé. Vérifiez le fichier produit par votre logiciel."
        }
        "UNSUPPORTED_SEDA_VERSION" | "INVALID_VERSION" => {
            "La version du standard SEDA du bordereau n’est pas reconnue (l’archive accepte SEDA 1.0 et 2.1 à 2.3)."
        }
        "NOT_XSD_VALID" => {
            "Le bordereau n’est pas conforme au schéma du standard SEDA. Le détail technique indique l’élément en cause ; corrigez-le dans votre logiciel de versement."
        }
        "FORBIDDEN_DTD_OR_ENTITY" => {
            "Le bordereau contient une déclaration DTD ou des entités, refusées pour des raisons de sécurité. Produisez le bordereau sans DTD."
        }
        "MANIFEST_TOO_DEEP"
        | "MANIFEST_TOO_MANY_ATTRIBUTES"
        | "MANIFEST_TOO_MANY_NAMESPACES"
        | "MANIFEST_TEXT_TOO_LONG"
        | "UNIT_METADATA_TOO_LARGE" => {
            "Le bordereau dépasse une limite de l’archive (profondeur, attributs, texte ou description trop longs). Simplifiez-le ou découpez le versement."
        }
        "UNSUPPORTED_CONSTRUCT" => {
            "Le bordereau utilise une construction du standard que l’archive ne prend pas en charge ; le détail technique la nomme."
        }
        "IDENTIFIER_TOO_LONG" => "Un identifiant du bordereau est trop long.",
        // Header, agencies, contract, profile.
        "CHECK_AGENT.ORIGINATING_MISSING" => {
            "Le bordereau ne nomme pas de service producteur. Renseignez-le (OriginatingAgency)."
        }
        "CHECK_AGENT.UNKNOWN" => {
            "Un service (producteur ou versant) nommé par le bordereau n’est pas connu de l’archive. Vérifiez son identifiant, ou demandez à l’archiviste de l’ajouter au référentiel des services."
        }
        "PROFILE_UNKNOWN" | "PROFILE_INACTIVE" | "PROFILE_WITHOUT_SCHEMA" | "PROFILE_INVALID" => {
            "Le profil d’archivage demandé par le bordereau n’est pas utilisable (inconnu, inactif ou sans schéma). Vérifiez l’identifiant du profil avec l’archiviste."
        }
        "NOT_CONFORMANT" => {
            "Le bordereau n’est pas conforme au profil d’archivage qu’il déclare ; le détail technique nomme l’écart."
        }
        // The package.
        "DUPLICATE_ID" | "MISSING_ID" => {
            "Des identifiants du bordereau manquent ou sont en double : chaque objet, groupe et unité doit avoir le sien."
        }
        "NO_URI" | "DUPLICATE_URI" | "URI_LITERAL_NAME" => {
            "Le chemin d’un fichier déclaré dans le bordereau manque, est en double ou est mal écrit."
        }
        "MANIFEST_SUPERIOR_BDO" => {
            "Le bordereau déclare un fichier qui ne se trouve pas dans le versement. Ajoutez-le, ou retirez-le du bordereau."
        }
        "MANIFEST_INFERIOR_BDO" => {
            "Le versement contient un fichier que le bordereau ne déclare pas. Déclarez-le, ou retirez-le du versement."
        }
        "UNKNOWN_GROUP"
        | "UNKNOWN_OBJECT"
        | "UNKNOWN_UNIT"
        | "ORPHAN_GROUP"
        | "CYCLE"
        | "OBJECT_REFERENCE_IN_GROUP"
        | "GROUP_CONFLICT"
        | "VERSION_KIND_MISMATCH"
        | "DUPLICATE_VERSION" => {
            "Les liens entre unités, groupes et objets du bordereau sont incohérents (référence inconnue, boucle, objet rattaché deux fois…). Le détail technique nomme l’élément."
        }
        "INVALID_SIZE" | "WARNING" if step == "CHECK_OBJECT_SIZE" => {
            "La taille d’un fichier ne correspond pas à celle que déclare le bordereau."
        }
        "INVALID_SIZE" => "Une taille déclarée dans le bordereau n’est pas un nombre valable.",
        // Units and rules.
        "EMPTY_TITLE" => "Une unité d’archives n’a pas d’intitulé (Title) : donnez-lui en un.",
        "NO_CONTENT" => "Une unité d’archives n’a pas de description (Content).",
        "INVALID_DATE" => {
            "Une date du bordereau n’est pas une date valable (attendu : AAAA-MM-JJ)."
        }
        "DATES_INCONSISTENT" => {
            "La date de fin d’une unité est antérieure à sa date de début : vérifiez les dates extrêmes."
        }
        "UNKNOWN" | "REF_INCONSISTENCY" if step == "UNITS_RULES_COMPUTE" => {
            "Une règle de gestion du bordereau n’existe pas dans le référentiel des règles de l’archive, ou n’est pas de la bonne catégorie. Vérifiez son identifiant avec l’archiviste."
        }
        "INVALID_DURATION" | "FINAL_ACTION" | "CONSISTENCY" => {
            "Une règle de gestion est mal formée (durée, sort final ou cohérence entre ses éléments)."
        }
        "HOLD_END_DATE_BEFORE_START_DATE"
        | "HOLD_END_DATE_ONLY_ALLOWED_FOR_HOLD_RULE_WITH_UNDEFINED_DURATION" => {
            "Une règle de gel est mal formée (date de fin avant son début, ou date de fin sur une règle à durée définie)."
        }
        "LEVEL_NOT_ALLOWED" => {
            "Le niveau de classification d’une unité n’est pas accepté par cette archive."
        }
        "NOT_AU_JSON_VALID" => {
            "Une unité n’est pas conforme au profil d’unité archivistique qu’elle déclare."
        }
        // Objects.
        "KO" | "DIGEST_MISSING" | "DIGEST_MALFORMED" | "DIGEST_ALGORITHM" | "CHECK_DIGEST" => {
            "L’empreinte d’un fichier manque, est mal écrite, utilise un algorithme refusé, ou ne correspond pas au fichier reçu (fichier altéré ou bordereau erroné). Recalculez l’empreinte, puis envoyez de nouveau."
        }
        "NO_OBJECT" => "Un groupe d’objets ne contient aucun fichier.",
        "VIRUS" => {
            "Un fichier du versement contient un virus. Il n’a pas été conservé : nettoyez ou remplacez le fichier, puis envoyez de nouveau."
        }
        "TIME_BUDGET" => {
            "Le traitement du versement a dépassé le temps permis pour sa taille. Découpez le versement en plusieurs envois."
        }
        "FAILURE" | "INTERNAL" => {
            "Une erreur interne de l’archive a interrompu le traitement ; elle n’est pas due au versement. Réessayez plus tard, puis prévenez l’administrateur si elle se répète."
        }
        _ => by_step(step),
    }
}

fn by_step(step: &str) -> &'static str {
    match step {
        "CHECK_CONTAINER" => "Le fichier envoyé n’a pas pu être lu comme un versement.",
        "CHECK_SEDA" => "Le bordereau n’a pas pu être lu comme un message SEDA valable.",
        "CHECK_HEADER" => "L’en-tête du bordereau (services, contrat d’entrée) est incorrect.",
        "CHECK_ARCHIVEPROFILE" => "Le bordereau ne respecte pas son profil d’archivage.",
        "CHECK_DATAOBJECTPACKAGE" => "Le paquet (fichiers, groupes, unités) est incohérent.",
        "CHECK_UNIT_SCHEMA" => "Une unité d’archives est mal décrite.",
        "UNITS_RULES_COMPUTE" => "Une règle de gestion est incorrecte.",
        "CHECK_CLASSIFICATION_LEVEL" => "Un niveau de classification est refusé.",
        "CHECK_DIGEST" => "Une empreinte de fichier est incorrecte.",
        "CHECK_OBJECT_SIZE" => "Une taille de fichier est incorrecte.",
        "OG_OBJECTS_FORMAT_CHECK" => "Le format d’un fichier n’est pas accepté.",
        "SANITY_CHECK_SIP" => "Le contrôle antivirus a refusé un fichier.",
        "STORAGE" => {
            "L’écriture sur les supports de conservation a échoué ; elle n’est pas due au versement. Réessayez plus tard."
        }
        _ => "L’archive a relevé un problème ; le détail technique le décrit.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_explained_in_french() {
        // Codes and steps the ingest writes (checks, container, manifest readers).
        for (step, code) in [
            ("CHECK_CONTAINER", "CONTAINER_BOMB"),
            ("CHECK_SEDA", "NOT_XSD_VALID"),
            ("CHECK_DIGEST", "KO"),
            ("CHECK_OBJECT_SIZE", "WARNING"),
            ("UNITS_RULES_COMPUTE", "UNKNOWN"),
            ("CHECK_HEADER", "CHECK_AGENT.UNKNOWN"),
            ("SANITY_CHECK_SIP", "VIRUS"),
            ("SOMETHING_NEW", "NEVER_SEEN"),
        ] {
            let text = explain(step, code);
            assert!(text.len() > 20 && text.ends_with('.'), "{code}: {text}");
            assert!(!text.contains('\''), "French apostrophes: {text}");
        }
        assert_ne!(
            explain("CHECK_OBJECT_SIZE", "WARNING"),
            explain("OTHER", "WARNING"),
            "a code is read with its step"
        );
        assert!(explain("UNITS_RULES_COMPUTE", "UNKNOWN").contains("règle"));
        assert!(explain("CHECK_DIGEST", "KO").contains("empreinte"));
    }
}
