/**
 * Writes the example files `npm run demo` delivers (examples/<object key>). They are committed; this
 * script documents how they were made and regenerates them deterministically:
 *   npx tsx scripts/generate-examples.ts
 * The photo needs ImageMagick's `convert` (apt-get install imagemagick); it is skipped without it.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';

const root = path.join(import.meta.dirname, '..', 'examples');

function write(key: string, data: string | Buffer): void {
  const file = path.join(root, key);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, data);
  console.log(`${key} (${Buffer.byteLength(data)} bytes)`);
}

/** A small deterministic PRNG so regenerated files are identical. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const customers = [
  ['29AABCT1332L1ZA', 'Tarang Textiles Pvt Ltd', '29-Karnataka'],
  ['27AAACR5055K1Z7', 'Reliant Retail LLP', '27-Maharashtra'],
  ['07AAGFF2194N1Z1', 'Fernhill Foods', '07-Delhi'],
  ['33AADCS0472N1Z9', 'Sundaram Steel Works', '33-Tamil Nadu'],
  ['24AAACG1209E1ZD', 'Gujarat Gears Ltd', '24-Gujarat'],
];
const items = [
  ['8471', 'Laptop computer', 18],
  ['8517', 'Mobile handset', 18],
  ['6109', 'Cotton T-shirt', 5],
  ['0902', 'Green tea 500g', 5],
  ['7308', 'Steel scaffolding', 18],
  ['3004', 'Paracetamol 500mg strip', 12],
] as const;

function salesRegister(): string {
  const random = rng(2026_03);
  const header =
    'Invoice Number,Invoice Date,Document Type,Customer GSTIN,Customer Name,Place of Supply,HSN Code,Item Description,Quantity,Unit Price,Taxable Value,GST Rate,CGST Amount,SGST Amount,IGST Amount,Invoice Total';
  const rows = [header];
  for (let i = 1; i <= 240; i++) {
    const [gstin, name, pos] = customers[Math.floor(random() * customers.length)] as string[];
    const [hsn, desc, rate] = items[Math.floor(random() * items.length)] as (typeof items)[number];
    const qty = 1 + Math.floor(random() * 40);
    const price = Math.round((50 + random() * 950) * 100) / 100;
    const taxable = Math.round(qty * price * 100) / 100;
    const intra = (pos as string).startsWith('29');
    const tax = Math.round(taxable * rate) / 100;
    const cgst = intra ? Math.round((tax / 2) * 100) / 100 : 0;
    const sgst = intra ? cgst : 0;
    const igst = intra ? 0 : tax;
    const day = String(1 + (i % 28)).padStart(2, '0');
    rows.push(
      [
        `INV/2026-27/${String(i).padStart(5, '0')}`,
        `${day}-03-2026`,
        i % 37 === 0 ? 'Credit Note' : 'Invoice',
        gstin,
        `"${name}"`,
        pos,
        hsn,
        desc,
        qty,
        price.toFixed(2),
        taxable.toFixed(2),
        rate,
        cgst.toFixed(2),
        sgst.toFixed(2),
        igst.toFixed(2),
        (taxable + cgst + sgst + igst).toFixed(2),
      ].join(','),
    );
  }
  return `${rows.join('\r\n')}\r\n`;
}

/** A short findings table, the kind a team shares into a channel. */
function inspectionFindings(): string {
  const next = rng(7);
  const lines = ['structure,element,finding,crack_width_mm,inspected_on'];
  for (let i = 1; i <= 12; i++) {
    const width = (next() * 0.6).toFixed(2);
    lines.push(
      `Bridge B-17,Pier ${i},${Number(width) > 0.3 ? 'monitor crack' : 'no action'},${width},2026-03-${String(10 + (i % 9)).padStart(2, '0')}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function catalog(): string {
  const random = rng(1001);
  const rows = ['item_id,title,category,brand,price,currency,availability,image_url,product_url'];
  const categories = ['Footwear', 'Apparel', 'Accessories', 'Home', 'Electronics'];
  for (let i = 1; i <= 300; i++) {
    const category = categories[i % categories.length] as string;
    const price = (199 + Math.floor(random() * 9800)).toFixed(2);
    rows.push(
      [
        `SKU-${100000 + i}`,
        `"${category} item ${i}, size ${['S', 'M', 'L', 'XL'][i % 4]}"`,
        category,
        ['Northline', 'Kavya', 'UrbanTrail'][i % 3],
        price,
        'INR',
        random() > 0.1 ? 'in stock' : 'out of stock',
        `https://cdn.example.com/img/${100000 + i}.jpg`,
        `https://shop.example.com/p/${100000 + i}`,
      ].join(','),
    );
  }
  return `${rows.join('\n')}\n`;
}

/** A minimal, valid Office Open XML workbook (one sheet, inline strings), zipped with DEFLATE. */
function xlsx(rows: ReadonlyArray<ReadonlyArray<string | number>>): Buffer {
  const xmlText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const col = (i: number) => String.fromCharCode(65 + i);
  const sheetRows = rows
    .map((row, r) => {
      const cells = row
        .map((v, c) =>
          typeof v === 'number'
            ? `<c r="${col(c)}${r + 1}"><v>${v}</v></c>`
            : `<c r="${col(c)}${r + 1}" t="inlineStr"><is><t>${xmlText(v)}</t></is></c>`,
        )
        .join('');
      return `<row r="${r + 1}">${cells}</row>`;
    })
    .join('');
  const files: Array<[string, string]> = [
    [
      '[Content_Types].xml',
      '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
    ],
    [
      '_rels/.rels',
      '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    ],
    [
      'xl/workbook.xml',
      '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Purchase Register" sheetId="1" r:id="rId1"/></sheets></workbook>',
    ],
    [
      'xl/_rels/workbook.xml.rels',
      '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
    ],
    [
      'xl/worksheets/sheet1.xml',
      `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>${sheetRows}</sheetData></worksheet>`,
    ],
  ];
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of files) {
    const data = Buffer.from(text, 'utf8');
    const packed = deflateRawSync(data);
    const nameBytes = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0, 6);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(0x5c210000, 10); // 2026-01-01 00:00 in DOS date/time (fixed for determinism)
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(0x5c210000, 12);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(packed.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, packed);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + packed.length;
  }
  const centralSize = centrals.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...centrals, end]);
}

function purchaseRows(): Array<Array<string | number>> {
  const random = rng(60_5613);
  const rows: Array<Array<string | number>> = [
    [
      'Supplier GSTIN',
      'Supplier Name',
      'Bill Number',
      'Bill Date',
      'HSN Code',
      'Taxable Value',
      'GST Rate',
      'IGST',
      'CGST',
      'SGST',
      'ITC Eligible',
    ],
  ];
  for (let i = 1; i <= 120; i++) {
    const [gstin, name] = customers[(i * 7) % customers.length] as string[];
    const [hsn, , rate] = items[(i * 5) % items.length] as (typeof items)[number];
    const taxable = Math.round((1000 + random() * 90_000) * 100) / 100;
    const tax = Math.round(taxable * rate) / 100;
    const intra = (gstin as string).startsWith('29');
    rows.push([
      gstin as string,
      name as string,
      `PB-${2026}${String(i).padStart(4, '0')}`,
      `2026-03-${String(1 + (i % 28)).padStart(2, '0')}`,
      hsn,
      taxable,
      rate,
      intra ? 0 : tax,
      intra ? tax / 2 : 0,
      intra ? tax / 2 : 0,
      i % 11 === 0 ? 'No' : 'Yes',
    ]);
  }
  return rows;
}

write('cleartax/sales/sales-register-2026-03.csv', salesRegister());
write('cleartax/purchase/purchase-register-2026-03.xlsx', xlsx(purchaseRows()));
write('cleartax-one/sales/sales-register-2026-03-one.csv', salesRegister());
write('clevertap/1001/catalog-products.csv', catalog());
// Shared into the sandbox workspace's first channel (sandbox/vendors/slack.ts).
write('slack/C0SANDBOX01/inspection-findings-2026-03.csv', inspectionFindings());
try {
  const photo = path.join(root, 'inspect/0b4cf1d2-6a8e-4f3a-9c1b-7d2e5f8a9b10/bridge-pier-3-crack.jpg');
  mkdirSync(path.dirname(photo), { recursive: true });
  execFileSync('convert', [
    '-seed',
    '7',
    '-size',
    '1280x960',
    'plasma:gray62-gray48',
    '-colorspace',
    'Gray',
    '+noise',
    'Gaussian',
    '-blur',
    '0x0.7',
    '-fill',
    'none',
    '-stroke',
    'gray10',
    '-strokewidth',
    '4',
    '-draw',
    'line 380,80 450,260',
    '-draw',
    'line 450,260 420,420',
    '-draw',
    'line 420,420 520,640',
    '-draw',
    'line 520,640 500,900',
    '-stroke',
    'none',
    '-fill',
    'white',
    '-undercolor',
    '#00000099',
    '-pointsize',
    '28',
    '-annotate',
    '+24+930',
    ' Pier 3, north face - crack width 0.4 mm - 2026-03-14 ',
    '-quality',
    '85',
    '-strip',
    photo,
  ]);
  console.log('inspect photo written');
} catch (error) {
  console.warn(`photo skipped (ImageMagick convert not available): ${(error as Error).message}`);
}
