import java.nio.file.*;
import java.util.Date;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cms.SignerInformationVerifier;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;
import org.bouncycastle.tsp.ers.*;

/** Bouncy Castle 1.72 as an independent verifier of RFC 4998 evidence records, for Carnac's
 * tests. Usage: java ErsVerify TSA_CERT.pem DATA_FILE RECORD.ers
 * Prints VALID and exits 0, or INVALID (reason) and exits 2. BC checks that the data's hash
 * leads to the first archive timestamp's root and the last chain's token signature with the
 * given TSA certificate (not every chain: Carnac's own verifier does that). */
public class ErsVerify {
  public static void main(String[] a) throws Exception {
    byte[] pem = new org.bouncycastle.util.io.pem.PemReader(new java.io.FileReader(a[0])).readPemObject().getContent();
    SignerInformationVerifier v = new JcaSimpleSignerInfoVerifierBuilder().build(new X509CertificateHolder(pem));
    byte[] data = Files.readAllBytes(Paths.get(a[1]));
    try {
      ERSEvidenceRecord er = new ERSEvidenceRecord(Files.readAllBytes(Paths.get(a[2])), new JcaDigestCalculatorProviderBuilder().build());
      er.validatePresent(new ERSByteData(data), new Date());
      er.validate(v);
      System.out.println("VALID");
    } catch (Exception e) {
      System.out.println("INVALID (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")");
      System.exit(2);
    }
  }
}
