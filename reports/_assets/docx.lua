-- evsynth's Word filter, run after _filters/evsynth.lua for the docx output only.
--   * Figures are cited as SVG (sharp in HTML and PDF); Word cannot show SVG everywhere and
--     Pandoc needs rsvg-convert to convert it, so each figure uses the PNG that the workflow
--     draws beside it (same stem, same folder).
--   * A figure is as wide as the text unless that would make it taller than MAX_HEIGHT_CM,
--     then narrower: a tall plot fills a page and pushes its caption onto the next alone.
--   * Table columns are widened to hold their longest word: Pandoc shares the width out by the
--     Markdown's dash counts, and a narrow column splits short codes ("FA0" / "1").
--   * Under plain Pandoc, the boxes evsynth.lua makes (div.callout, with a div.callout-title)
--     get the reference document's "Callout" / "Callout Title" paragraph styles: a shaded
--     block with a rule on the left; it keeps together on one page. Under Quarto there are no such divs (Quarto's callouts
--     have their own docx form), so this part does nothing there.

local function png_beside(src)
  local stem = src:match("^(.*)%.[sS][vV][gG]$")
  if not stem then return nil end
  local png = stem .. ".png"
  local file = io.open(png, "rb")
  if file == nil then return nil end
  file:close()
  return png
end

local TEXT_WIDTH_CM = 17.0   -- A4 less 2 cm margins (evsynth.docx_reference)
local MAX_HEIGHT_CM = 19.0   -- leaves room for the caption below on a 25.7 cm text height
local LINE_CHARS = 70        -- characters of table text (9 pt) across the text width, in
                             -- widths of a digit or capital (wider than the average letter)

-- A PNG's width and height in pixels, from its IHDR chunk (nil if the file is not a PNG).
local function png_size(path)
  local file = io.open(path, "rb")
  if file == nil then return nil end
  local head = file:read(24)
  file:close()
  if head == nil or #head < 24 or head:sub(2, 4) ~= "PNG" then return nil end
  return string.unpack(">I4", head, 17), string.unpack(">I4", head, 21)
end

function Image(img)
  local png = png_beside(img.src)
  if png then img.src = png end
  local w, h = png_size(img.src)
  if w and h and w > 0 and h / w * TEXT_WIDTH_CM > MAX_HEIGHT_CM then
    img.attributes["width"] = string.format("%.1fcm", MAX_HEIGHT_CM * w / h)
  end
  return img
end

-- Longest word (in characters) of each column, header included.
local function longest_words(tbl)
  local longest = {}
  local function scan(rows)
    for _, row in ipairs(rows) do
      for i, cell in ipairs(row.cells) do
        -- A line may break after a hyphen: "Quasi-experimental" needs room for "experimental".
        for word in pandoc.utils.stringify(cell.contents):gmatch("[^%s%-]+%-?") do
          longest[i] = math.max(longest[i] or 1, utf8.len(word) or #word)
        end
      end
    end
  end
  scan(tbl.head.rows)
  for _, body in ipairs(tbl.bodies) do scan(body.body) end
  return longest
end

-- Each column at least as wide as its longest word (plus the cell margins); the width this
-- takes is given up by the other columns in proportion to their own share, so a long-prose
-- column narrows and a column of codes never drops below its minimum.
function Table(tbl)
  local n = #tbl.colspecs
  local longest = longest_words(tbl)
  local shares, floors = {}, {}
  for i, spec in ipairs(tbl.colspecs) do
    local width = spec[2]
    shares[i] = (type(width) == "number" and width > 0) and width or 1 / n
    floors[i] = ((longest[i] or 1) + 2) / LINE_CHARS
  end
  local fixed = {}
  for _ = 1, n + 1 do
    local taken, free = 0, 0
    for i = 1, n do
      if fixed[i] then taken = taken + floors[i] else free = free + shares[i] end
    end
    local scale = free > 0 and math.max(0, 1 - taken) / free or 0
    local changed = false
    for i = 1, n do
      if not fixed[i] and shares[i] * scale < floors[i] then
        fixed[i], changed = true, true
      end
    end
    if not changed then
      for i, spec in ipairs(tbl.colspecs) do
        tbl.colspecs[i] = { spec[1], fixed[i] and floors[i] or shares[i] * scale }
      end
      return tbl
    end
  end
  return nil  -- every column at its floor and still too wide: leave Pandoc's widths
end

local function has_class(div, name)
  for _, class in ipairs(div.classes) do
    if class == name then return true end
  end
  return false
end

function Div(div)
  if has_class(div, "callout-title") then
    div.attributes["custom-style"] = "Callout Title"
    return div
  end
  if has_class(div, "callout") then
    div.attributes["custom-style"] = "Callout"
    -- Callout paragraphs keep with the next (the box never splits); its last one does not,
    -- so the box does not drag what follows it along (evsynth.docx_reference).
    local n = #div.content
    if n > 0 and not (div.content[n].t == "Div" and has_class(div.content[n], "callout-title")) then
      div.content[n] = pandoc.Div({ div.content[n] }, pandoc.Attr("", {}, { ["custom-style"] = "Callout Last" }))
    end
    return div
  end
  return nil
end
