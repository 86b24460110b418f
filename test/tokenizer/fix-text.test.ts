// fixText must behave like ftfy 6.1.1's fix_text with the default configuration, one test per fixer.
// Expectations are ftfy's documented behaviour (several are the examples of its own docstrings).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixText } from '../../app/tokenizer/fix-text.ts';
import { badness, isBad } from '../../app/tokenizer/mojibake-badness.ts';
import { decodeInconsistentUtf8, fixEncoding, replaceLossySequences, restoreByteA0 } from '../../app/tokenizer/fix-encoding.ts';

function check(cases: readonly (readonly [string, string])[]): void {
  for (const [input, expected] of cases) assert.equal(fixText(input), expected, `fixText(${JSON.stringify(input)})`);
}

test('HTML entities are decoded when the text has no "<"', () => {
  check([
    ['&amp; &lt;b&gt; &quot;q&quot; &#39;a&#39; &nbsp;x', '& <b> "q" \'a\' \u00a0x'],
    ['HTML entities &lt;3', 'HTML entities <3'],
    // A fixed point: decoded until nothing changes.
    ['&amp;amp;', '&'],
    // All-caps Latin entities, HTML5 names; entities without ';' are never decoded.
    ['P&EACUTE;REZ', 'PÉREZ'],
    ['BUNDESSTRA&SZLIG;E', 'BUNDESSTRASSE'],
    ['&ntilde; &Ntilde; &NTILDE; &nTILDE;', 'ñ Ñ Ñ &nTILDE;'],
    ['&Jscr;ohn &checkmark;', '\u{1d4a5}ohn ✓'],
    ['this&not that', 'this&not that'],
  ]);
});

test('numeric references follow html.unescape: C1 as Windows-1252, invalid code points', () => {
  check([
    ['&#x2019; &#X41; &#65; &#133; &#128512;', "' A A … \u{1f600}"],
    ['[&#0;][&#1;][&#xD800;][&#1114112;]', '[\ufffd][][\ufffd][\ufffd]'],
    ['&#12ab; &#xyz; &unknown;', '&#12ab; &#xyz; &unknown;'],
  ]);
});

test('a "<" keeps entities in its line and every later line', () => {
  check([
    ['<b>bold &amp; brave</b>', '<b>bold &amp; brave</b>'],
    ['a &amp; b\nc <i> &amp; d\ne &amp; f', 'a & b\nc <i> &amp; d\ne &amp; f'],
    ['e &amp; f\n<i>', 'e & f\n<i>'],
  ]);
});

test('terminal escapes are removed', () => {
  check([
    ['\x1b[36;44mblue\x1b[0m text', 'blue text'],
    ['\x01\x1b[36;44mI&#x92;m blue, da ba dee da ba doo&#133;\x1b[0m', "I'm blue, da ba dee da ba doo…"],
  ]);
});

test('UTF-8 mojibake from Latin-1 / Windows-125x is decoded', () => {
  check([
    ['cafÃ© doesnâ€™t', "café doesn't"],
    ['sÃ³', 'só'],
    ['This â€” should be an em dash', 'This — should be an em dash'],
    ['crÃ¨me brÃ»lÃ©e', 'crème brûlée'],
    ['ÐŸÑ€Ð¸Ð²ÐµÑ‚', 'Привет'],
    ['Ξ±ΟƒΟ„Ξ±', 'αστα'],
    ['ðŸ˜€ smile', '\u{1f600} smile'],
    // Twice encoded.
    ['\xc3\xa0\xc2\xb2\xc2\xa0_\xc3\xa0\xc2\xb2\xc2\xa0', 'ಠ_ಠ'],
    ['Ã¢â‚¬Å“doubleÃ¢â‚¬\x9d', '"double"'],
  ]);
});

test('a 0xA0 byte that became a space is restored (restore_byte_a0)', () => {
  check([
    ['voilÃ le travail', 'voilà le travail'],
    ['Ã la mode', 'à la mode'],
    ['Ã\xa0 la mode', 'à la mode'],
    // Portuguese contractions keep the following word attached.
    ['Ã s vezes', 'às vezes'],
  ]);
  // 'Ã ' as a word keeps its space after the restored byte; before 's ' the space itself was the byte.
  assert.equal(restoreByteA0('caf\xc3 '), 'caf\xc3\xa0 ');
  assert.equal(restoreByteA0('\xc3 s '), '\xc3\xa0s ');
});

test('sequences that lost bytes become U+FFFD (replace_lossy_sequences)', () => {
  check([['â€œ like this â€�', '" like this \ufffd']]);
  assert.equal(replaceLossySequences('\xe2\x80\x1a'), '\xef\xbf\xbd');
  assert.equal(replaceLossySequences('\xc3?x'), '\xef\xbf\xbdx');
});

test('mojibake embedded in consistent text is fixed in place (decode_inconsistent_utf8)', () => {
  check([['plain words then ÐºÐ¾ÑˆÐºÐ° and more', 'plain words then кошка and more']]);
  assert.equal(decodeInconsistentUtf8('The Mona Lisa doesnâ€™t have eyebrows.'), 'The Mona Lisa doesn’t have eyebrows.');
});

test('Latin-1 meant as Windows-1252, and stray C1 controls', () => {
  check([
    ['This text was never UTF-8 at all\x85', 'This text was never UTF-8 at all…'],
    ['I\x92m', "I'm"],
    // 0x8D is unassigned in Windows-1252: nothing better to read it as.
    ['caf\x8d', 'caf\x8d'],
  ]);
});

test('plausible text is left alone', () => {
  const clean = [
    'not such a fan of Charlotte Brontë…',
    'AHÅ™, the new sofa from IKEA®',
    'Ångström Øresund Ærø straße',
    'γάτα قطة кошка на диване 東京タワー',
    '¯\\_(ツ)_/¯',
    '(╯°□°)╯︵ ┻━┻',
    '5×£35 ½ cup × 2 ≤ 3',
    'ÀÉÎÕÜ Ñandú',
  ];
  for (const text of clean) {
    assert.equal(isBad(text), false, text);
    assert.equal(fixEncoding(text), text);
    assert.equal(fixText(text), text);
  }
});

test('the badness heuristic counts improbable sequences', () => {
  assert.equal(badness('plain ascii'), 0);
  assert.equal(badness('cafÃ©'), 1);
  assert.equal(badness('Ã© Ã© Ã©'), 3);
  assert.equal(isBad('doesnâ€™t'), true);
  assert.equal(isBad('\x85'), true);
});

test('Latin ligatures and digraph code points are split', () => {
  check([
    ['ﬁne ﬂower ﬀ ﬃ ﬄ ﬅ ﬆ', 'fine flower ff ffi ffl ſt st'],
    ['Ĳssel ĳ ŉ Ǆ ǅ ǆ Ǉ ǈ ǉ Ǌ ǋ ǌ Ǳ ǲ ǳ', "IJssel ij 'n DŽ Dž dž LJ Lj lj NJ Nj nj DZ Dz dz"],
    // Not Latin typographic ligatures: kept.
    ['æ œ', 'æ œ'],
  ]);
});

test('fullwidth and halfwidth forms get their standard width', () => {
  check([
    ['ＬＯＵＤ　ＮＯＩＳＥＳ', 'LOUD NOISES'],
    ['ＡＢＣ１２３　ｆｕｌｌ', 'ABC123 full'],
    ['ｶﾀｶﾅ ﾊﾟﾝ', 'カタカナ パン'],
  ]);
});

test('curly quotes become straight ones', () => {
  check([['“double” ‘single’ ‚low‛ „low‟ ʼmodifier', '"double" \'single\' \'low\' "low" \'modifier']]);
});

test('line breaks become "\\n"', () => {
  check([['a\r\nb\rc\u2028d\u2029e', 'a\nb\nc\nd\ne']]);
});

test('unpaired surrogates become U+FFFD', () => {
  check([
    ['a\ud83d b', 'a\ufffd b'],
    ['x\udc00y', 'x\ufffdy'],
    ['\ud83d\ude00', '\u{1f600}'],
  ]);
});

test('invisible control characters are removed; whitespace, joiners and bidi controls stay', () => {
  check([
    ['bell\x07 esc\x1b[0m del\x7f nul\x00end\x0b\x0c\t', 'bell esc del nulend\x0c\t'],
    ['zero\u200bwidth\u200cnon\u200djoiner\ufeffbom\u2066\u206a\ufff9\ufffc', 'zero\u200bwidth\u200cnon\u200djoinerbom\u2066'],
    ['\ufeffParty like\nit&rsquo;s 1999!', "Party like\nit's 1999!"],
    // Musical controls and emoji tag characters are not removed.
    ['\u{1d173}music\u{e0067}tag', '\u{1d173}music\u{e0067}tag'],
  ]);
});

test('the result is NFC', () => {
  check([
    ['cafe\u0301 nai\u0308ve', 'café naïve'],
    ['\u1100\u1161', '\uac00'],
    ['uÌˆnicode', 'ünicode'],
  ]);
});
