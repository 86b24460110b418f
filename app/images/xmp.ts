// XMP packets (ISO 16684-1) hold RDF/XML. Generators put simple text properties there: Draw Things
// writes its settings as JSON in exif:UserComment and the prompt in dc:description, with
// xmp:CreatorTool "Draw Things". Only simple properties are read — a value written as element text,
// as the first rdf:li of an rdf:Alt/Seq/Bag, or as an attribute of rdf:Description — keyed by their
// qualified name ("exif:UserComment"); structures are skipped. A full XML parser is not needed for that.

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|lt|gt|amp|quot|apos);/g, (_, entity: string) => {
    if (entity.startsWith('#x')) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(Number.parseInt(entity.slice(1), 10));
    return { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }[entity] ?? '';
  });
}

/** Simple properties of an XMP packet by qualified name; the first occurrence wins. */
export function readXmpProperties(xml: string): Map<string, string> {
  const out = new Map<string, string>();
  const set = (name: string, value: string) => {
    if (!/^(rdf|x|xml|xmlns):/.test(name) && !out.has(name)) out.set(name, decodeEntities(value));
  };
  // Attribute form: <rdf:Description dc:format="image/png" xmp:CreatorTool="Draw Things">
  for (const description of xml.matchAll(/<rdf:Description\b([^>]*)>/g)) {
    for (const attribute of description[1]!.matchAll(/([\w-]+:[\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
      set(attribute[1]!, attribute[2] ?? attribute[3] ?? '');
    }
  }
  // Element form, with or without an rdf:Alt/Seq/Bag around the value.
  // RDF's own elements and the x:xmpmeta wrapper are not matched, so the scan goes on inside them.
  for (const element of xml.matchAll(/<(?!rdf:|x:)([\w-]+:[\w-]+)(?:\s[^>]*)?>([\s\S]*?)<\/\1>/g)) {
    const [, name, body] = element as unknown as [string, string, string];
    const item = /<rdf:li\b[^>]*>([\s\S]*?)<\/rdf:li>/.exec(body);
    if (item) set(name, item[1]!);
    else if (!body.includes('<')) set(name, body);
  }
  return out;
}
