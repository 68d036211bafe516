#!/usr/bin/env python3
"""Writes the generated part of the format-identification corpus with Python's own
libraries (zipfile, wave, sqlite3, gzip, bz2, tarfile, zlib): real encoders of real formats.
Run once; the outputs are committed. See README.md."""
import bz2, gzip, io, sqlite3, struct, tarfile, wave, zipfile, zlib, os

def png(path, w=4, h=3):
    raw = b"".join(b"\x00" + bytes(c for x in range(w) for c in ((x * 60) % 256, (y * 80) % 256, 128)) for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    open(path, "wb").write(data)

def gif(path):
    # 1x1 GIF89a with a two-colour palette.
    open(path, "wb").write(b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

def bmp(path, w=2, h=2):
    row = b"\x00\x00\xff" * w + b"\x00" * ((4 - (3 * w) % 4) % 4)
    pixels = row * h
    header = b"BM" + struct.pack("<IHHI", 54 + len(pixels), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    open(path, "wb").write(header + info + pixels)

def wav(path):
    with wave.open(path, "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
        w.writeframes(b"".join(struct.pack("<h", (i * 300) % 20000) for i in range(800)))

def sqlite(path):
    if os.path.exists(path): os.remove(path)
    c = sqlite3.connect(path); c.execute("create table t(a text)"); c.execute("insert into t values ('carnac')"); c.commit(); c.close()

def docx(path):
    ct = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>')
    doc = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
           '<w:body><w:p><w:r><w:t>Délibération</w:t></w:r></w:p></w:body></w:document>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", ct); z.writestr("_rels/.rels", rels); z.writestr("word/document.xml", doc)

def plain_zip(path):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("readme.txt", "just a zip\n")

def main():
    png("image.png"); gif("image.gif"); bmp("image.bmp"); wav("sound.wav"); sqlite("base.sqlite")
    docx("document.docx"); plain_zip("plain.zip")
    open("text.gz", "wb").write(gzip.compress(b"compressed text\n" * 20, mtime=0))
    open("text.bz2", "wb").write(bz2.compress(b"compressed text\n" * 20))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        info = tarfile.TarInfo("a.txt"); data = b"tar member\n"; info.size = len(data); info.mtime = 0
        t.addfile(info, io.BytesIO(data))
    open("bundle.tar", "wb").write(buf.getvalue())
    open("page.html", "w").write("<!DOCTYPE html>\n<html><head><title>Carnac</title></head><body><p>ok</p></body></html>\n")
    open("table.csv", "w").write("a,b,c\n1,2,3\n")
    open("letter.rtf", "w").write("{\\rtf1\\ansi\\deff0 {\\fonttbl {\\f0 Times;}}\\f0 Bonjour\\par}\n")
    open("plain.xml", "w").write('<?xml version="1.0" encoding="UTF-8"?>\n<root><a>1</a></root>\n')

main()
