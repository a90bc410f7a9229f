/// Crops, pads and aspect-preserving resizes with the exact integer conventions of the Python
/// preprocessors the vision models were trained with.

extension RGBImage {
    /// The size torchvision's `Resize(size)` (an int) and the CLIP image processors'
    /// shortest-edge resize produce: the shorter side becomes `size` and the longer side
    /// `int(size * long / short)`, i.e. the exact quotient truncated toward zero (never rounded:
    /// 61x47 to 20 gives 25x20 although 25.96 is nearer 26). A square stays square.
    public static func shortestSideSize(width: Int, height: Int, size: Int) -> (width: Int, height: Int) {
        precondition(width > 0 && height > 0 && size > 0, "sizes must be positive")
        let (short, long) = width <= height ? (width, height) : (height, width)
        // One correctly rounded division of exact integers, as Python's `/` does, then truncation.
        let newLong = Int((Double(size * long) / Double(short)).rounded(.towardZero))
        return width <= height ? (size, newLong) : (newLong, size)
    }

    /// Resizes so that the shorter side is `size`, keeping the aspect ratio as in
    /// `shortestSideSize(width:height:size:)` (torchvision `Resize(int)`, CLIP processors).
    /// An image whose shorter side already is `size` is returned unchanged, as torchvision does.
    public func resizedShortestSide(to size: Int, filter: ResampleFilter) -> RGBImage {
        let target = Self.shortestSideSize(width: width, height: height, size: size)
        return resized(width: target.width, height: target.height, filter: filter)
    }

    /// The central `width` x `height` region, as torchvision's `CenterCrop`: the top-left corner
    /// is at `int(round((H - h) / 2.0))` with Python's `round` (halves go to the even integer,
    /// so a margin of 5 gives offset 2 and a margin of 7 gives 4). Where the crop is larger than
    /// the image, that axis is zero-padded first, the smaller half of the padding before the
    /// image (`(h - H) // 2`), so the result always has the requested size.
    ///
    /// Hugging Face's `image_transforms.center_crop` (`CLIPImageProcessor`) instead floors the
    /// offset, `(H - h) // 2`: one pixel less when `H - h` is 3 modulo 4.
    public func centreCropped(width cropWidth: Int, height cropHeight: Int) -> RGBImage {
        precondition(cropWidth > 0 && cropHeight > 0, "cannot crop to \(cropWidth)x\(cropHeight)")
        func origin(_ size: Int, _ crop: Int) -> Int {
            if crop > size { return -((crop - size) / 2) }  // padding before the image
            return Int((Double(size - crop) / 2).rounded(.toNearestOrEven))
        }
        return region(x: origin(width, cropWidth), y: origin(height, cropHeight),
                      width: cropWidth, height: cropHeight, fill: (0, 0, 0))
    }

    /// LLaVA's `expand2square`: a square canvas of `fill` whose side is the longer side, with
    /// the image pasted at `((side - width) // 2, (side - height) // 2)`. LLaVA fills with the
    /// CLIP mean colour, `(122, 116, 104)`. A square image is returned unchanged.
    public func paddedToSquare(fill: (UInt8, UInt8, UInt8)) -> RGBImage {
        if width == height { return self }
        let side = max(width, height)
        return region(x: -((side - width) / 2), y: -((side - height) / 2), width: side, height: side, fill: fill)
    }

    /// The `width` x `height` region whose top-left pixel is `(x, y)`, like Pillow's
    /// `crop((x, y, x + width, y + height))`.
    ///
    /// - Throws: `ImageError.regionOutOfBounds` unless the size is positive and the region lies
    ///   entirely inside the image. Regions often come from model outputs (detection boxes), so
    ///   a bad one is an error to report, not a crash; clamp first to crop what is visible.
    public func cropped(x: Int, y: Int, width cropWidth: Int, height cropHeight: Int) throws -> RGBImage {
        guard cropWidth > 0, cropHeight > 0, x >= 0, y >= 0, x <= width - cropWidth, y <= height - cropHeight else {
            throw ImageError.regionOutOfBounds(x: x, y: y, width: cropWidth, height: cropHeight,
                                               imageWidth: width, imageHeight: height)
        }
        return region(x: x, y: y, width: cropWidth, height: cropHeight, fill: (0, 0, 0))
    }

    /// The `width` x `height` window at `(x, y)`, which may extend past any edge; pixels outside
    /// the image are `fill`. Copies whole row runs.
    func region(x: Int, y: Int, width regionWidth: Int, height regionHeight: Int, fill: (UInt8, UInt8, UInt8)) -> RGBImage {
        var output = RGBImage(width: regionWidth, height: regionHeight, fill: fill)
        // Columns of the window that fall on the image, in window coordinates.
        let columns = max(0, -x)..<min(regionWidth, width - x)
        let rows = max(0, -y)..<min(regionHeight, height - y)
        guard !columns.isEmpty, !rows.isEmpty else { return output }
        let runLength = columns.count * 3
        pixels.withUnsafeBufferPointer { source in
            output.pixels.withUnsafeMutableBufferPointer { destination in
                for row in rows {
                    let from = source.baseAddress! + ((row + y) * width + columns.lowerBound + x) * 3
                    let to = destination.baseAddress! + (row * regionWidth + columns.lowerBound) * 3
                    to.update(from: from, count: runLength)
                }
            }
        }
        return output
    }
}
