-- evsynth's Pandoc filter, used by both render paths.
-- Under Quarto (the `quarto` global exists) it does nothing: Quarto has callouts and alt
-- text of its own. Under plain Pandoc it provides what Quarto would:
--   * ::: {.callout-* title="..."} boxes, as a styled <div> in HTML and #evs-box() in Typst;
--   * fig-alt attributes as alt text (HTML alt, Typst image alt).
-- Under both, it first makes the document inert (the narrative check refuses these with a file
-- and line; this catches what reaches the engine anyway, e.g. entity-encoded targets):
--   * javascript:, vbscript: and data: link targets are dropped (the link text stays);
--   * images that are not relative paths inside the project (a scheme, an absolute path or
--     '..') are replaced by their description: an embedded image is read from disk;
--   * event-handler attributes (on...=) and attributes holding such URLs are removed.

local UNSAFE_SCHEMES = { javascript = true, vbscript = true, data = true }

local function unsafe_url(url)
  -- Browsers ignore control characters and white space inside a scheme ("java\tscript:").
  local squeezed = url:gsub("[%c%s]", ""):lower()
  local scheme = squeezed:match("^(%a[%w+.-]*):")
  return scheme ~= nil and UNSAFE_SCHEMES[scheme] == true
end

local function outside_project(src)
  if src:match("^%a[%w+.-]*:") or src:match("^[/\\]") then return true end
  for part in src:gmatch("[^/\\]+") do
    if part == ".." then return true end
  end
  return false
end

local function clean_attributes(el)
  if el.attributes == nil then return false end
  local drop = {}
  for name, value in pairs(el.attributes) do
    local lower = name:lower()
    if lower:match("^on") or lower == "srcdoc" or lower == "formaction" or lower == "href"
        or lower == "src" or lower == "action" or unsafe_url(value) then
      table.insert(drop, name)
    end
  end
  for _, name in ipairs(drop) do el.attributes[name] = nil end
  return #drop > 0
end

local function cleaned(el)
  if clean_attributes(el) then return el end
  return nil
end

local sanitise = {
  Link = function(link)
    if unsafe_url(link.target) then return link.content end
    return cleaned(link)
  end,
  Image = function(img)
    if outside_project(img.src) then return img.caption end
    return cleaned(img)
  end,
  Inline = cleaned,
  Block = cleaned,
}

if quarto ~= nil then return { sanitise } end

local function callout_kind(div)
  for _, class in ipairs(div.classes) do
    local kind = class:match("^callout%-(.+)$")
    if kind then return kind end
  end
  return nil
end

local function title_inlines(text)
  return pandoc.utils.blocks_to_inlines(pandoc.read(text or "", "markdown").blocks)
end

local function typst_inlines(inlines)
  local out = pandoc.write(pandoc.Pandoc({ pandoc.Plain(inlines) }), "typst")
  return (out:gsub("%s+$", ""))
end

local function typst_string(text)
  return '"' .. text:gsub("\\", "\\\\"):gsub('"', '\\"') .. '"'
end

function Div(div)
  local kind = callout_kind(div)
  if not kind then return nil end
  local title = title_inlines(div.attributes["title"])
  if FORMAT:match("typst") then
    local blocks = { pandoc.RawBlock("typst", '#evs-box(kind: "' .. kind .. '", title: ['
      .. typst_inlines(title) .. '])[') }
    for _, b in ipairs(div.content) do table.insert(blocks, b) end
    table.insert(blocks, pandoc.RawBlock("typst", "]"))
    return blocks
  end
  local blocks = {}
  if #title > 0 then
    table.insert(blocks, pandoc.Div({ pandoc.Plain(title) }, pandoc.Attr("", { "callout-title" })))
  end
  for _, b in ipairs(div.content) do table.insert(blocks, b) end
  return pandoc.Div(blocks, pandoc.Attr(div.identifier, { "callout", "callout-" .. kind },
    { role = "note" }))
end

function Image(img)
  local alt = img.attributes["fig-alt"]
  if alt then
    img.attributes["fig-alt"] = nil
    img.attributes["alt"] = alt
  end
  return img
end

-- Typst: write figures ourselves so the image carries its alt text.
function Figure(fig)
  if not FORMAT:match("typst") then return nil end
  local img = nil
  pandoc.walk_block(fig, { Image = function(i) img = i end })
  if not img then return nil end
  local alt = img.attributes["fig-alt"] or img.attributes["alt"]
  -- evs-image() lives in _typst/evsynth.typ, so the path is given from the project root.
  local src = img.src
  if not src:match("^/") then src = "/" .. src end
  local args = typst_string(src)
  local width = img.attributes["width"]
  if width then args = args .. ", width: " .. width end
  if alt then args = args .. ", alt: " .. typst_string(alt) end
  local caption = pandoc.utils.blocks_to_inlines(fig.caption.long)
  -- A figure floats (to the top or foot of this page, or the next): one that does not fit the
  -- room left no longer leaves the rest of the page blank while the text waits for it.
  local code = "#figure(evs-image(" .. args .. "), placement: auto, caption: ["
    .. typst_inlines(caption) .. "])"
  if fig.identifier ~= "" then code = code .. " <" .. fig.identifier .. ">" end
  return pandoc.RawBlock("typst", code)
end

-- Typst: short tables stay on one page with their caption; long ones split across pages
-- (the template repeats their header row). Long means many rows, or cells of prose (the
-- findings' statements and explanations) whose wrapped lines would not fit on one page: an
-- unbreakable block taller than the page runs off its foot.
local SHORT_TABLE_ROWS = 25
local PAGE_LINES = 55   -- wrapped table lines that fit on an A4 page beside a heading
local LINE_CHARS = 95   -- characters of table text across the full text width
local ROW_LINES = 40    -- wrapped lines of a row that still fit on a page below a heading

local function column_shares(tbl)
  local shares, n = {}, #tbl.colspecs
  for i, spec in ipairs(tbl.colspecs) do
    local width = spec[2]
    shares[i] = (type(width) == "number" and width > 0) and width or 1 / n
  end
  return shares
end

-- Lines the table takes once its cells wrap: per row, its tallest cell, plus one for padding;
-- and the tallest row's lines.
local function wrapped_lines(tbl)
  local shares = column_shares(tbl)
  local lines, tallest_row = 0, 0
  local function add(rows)
    for _, row in ipairs(rows) do
      local tallest = 1
      for i, cell in ipairs(row.cells) do
        local chars = utf8.len(pandoc.utils.stringify(cell.contents)) or 0
        local per_line = math.max(1, math.floor(LINE_CHARS * (shares[i] or 1)))
        tallest = math.max(tallest, math.ceil(chars / per_line))
      end
      lines = lines + tallest + 1
      tallest_row = math.max(tallest_row, tallest + 1)
    end
  end
  add(tbl.head.rows)
  for _, body in ipairs(tbl.bodies) do add(body.body) end
  return lines, tallest_row
end

local function is_short(tbl)
  local rows = 0
  for _, body in ipairs(tbl.bodies) do rows = rows + #body.body end
  return rows <= SHORT_TABLE_ROWS and wrapped_lines(tbl) <= PAGE_LINES
end

-- A long table may start low on a page, and its first row (a finding's prose) then moves to
-- the next page, leaving its heading and caption behind: start it, with the heading just
-- before it, on a new page when less than about a quarter of the page is left. An empty
-- unbreakable block of that height goes to the next page if it does not fit, and the space
-- it takes is given back (a position-dependent page break would not settle).
local NEED_ROOM = "#block(breakable: false, height: 7cm, width: 100%, above: 0pt, below: 0pt)[]\n"
  .. "#v(-7cm)"

local function keep_with_long_tables(blocks)
  if not FORMAT:match("typst") then return nil end
  local out = {}
  for i, block in ipairs(blocks) do
    local nxt = blocks[i + 1]
    local starts_long = (block.t == "Table" and not is_short(block))
      or (block.t == "Header" and nxt ~= nil and nxt.t == "Table" and not is_short(nxt))
    local after_header = block.t == "Table" and i > 1 and blocks[i - 1].t == "Header"
    if starts_long and not after_header then
      table.insert(out, pandoc.RawBlock("typst", NEED_ROOM))
    end
    table.insert(out, block)
  end
  return out
end

-- Typst: a paragraph that leads into a list ("Three things stand out:") keeps with the list,
-- as a heading keeps with what follows it (the template makes headings sticky).
local function keep_lead_ins(blocks)
  if not FORMAT:match("typst") then return nil end
  local out = {}
  for i, block in ipairs(blocks) do
    local nxt = blocks[i + 1]
    local leads = block.t == "Para" and nxt ~= nil
      and (nxt.t == "BulletList" or nxt.t == "OrderedList")
      and pandoc.utils.stringify(block):match(":%s*$")
    if leads then
      table.insert(out, pandoc.RawBlock("typst", "#block(sticky: true)["))
      table.insert(out, block)
      table.insert(out, pandoc.RawBlock("typst", "]"))
    else
      table.insert(out, block)
    end
  end
  return out
end

-- HTML: a table sits in a wrapper that scrolls sideways on a phone, with a hint above it (the
-- stylesheet shows it on narrow screens for tables of four or more columns) and a visible
-- scroll bar; each column keeps a readable width (--evs-cols) instead of one word a line.
-- Focusable, so the keyboard can scroll it too (WCAG 2.1.1).
local function scrolling(tbl)
  local n = #tbl.colspecs
  local classes = { "evs-scroll" }
  if n >= 4 then table.insert(classes, "evs-wide") end
  -- Attributes as a list of pairs, not a Lua table: a table's key order is not fixed, and the
  -- same sources must give the same bytes.
  return pandoc.Div({ tbl }, pandoc.Attr("", classes, {
    { "role", "region" }, { "tabindex", "0" },
    { "aria-label", "Table: scroll sideways to see every column" },
    { "style", "--evs-cols: " .. n },
  }))
end

function Table(tbl)
  if FORMAT:match("html") then return scrolling(tbl) end
  if not FORMAT:match("typst") then return nil end
  if is_short(tbl) then
    -- Kept on one page, unless it is taller than a page once laid out (evs-keep measures).
    return { pandoc.RawBlock("typst", "#evs-keep["), tbl, pandoc.RawBlock("typst", "]") }
  end
  -- Only long tables may break: a breakable figure is otherwise pushed to the next page.
  -- A row stays whole (the template), unless one is too tall to fit below a heading on an
  -- empty page: unsplittable, it would leave a page blank and run off the next one's foot.
  local _, tallest_row = wrapped_lines(tbl)
  local rows = tallest_row > ROW_LINES and "#set table.cell(breakable: true)\n" or ""
  return { pandoc.RawBlock("typst", "#[#show figure: set block(breakable: true)\n" .. rows),
    tbl, pandoc.RawBlock("typst", "]") }
end

return {
  sanitise,
  { Blocks = keep_with_long_tables },
  { Blocks = keep_lead_ins },
  { Div = Div, Image = Image, Figure = Figure, Table = Table },
}
