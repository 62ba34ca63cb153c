namespace Lamda.Graphs;

/// <summary>ONNX tensor element types (TensorProto.DataType numbers) and their short LamdaText names.</summary>
internal static class DataTypes
{
    public const int Undefined = 0, Float = 1, UInt8 = 2, Int8 = 3, UInt16 = 4, Int16 = 5, Int32 = 6, Int64 = 7,
        String = 8, Bool = 9, Float16 = 10, Double = 11, UInt32 = 12, UInt64 = 13, BFloat16 = 16;

    static readonly string[] Names =
    [
        "?", "f32", "u8", "i8", "u16", "i16", "i32", "i64", "str", "bool", "f16", "f64", "u32", "u64",
        "c64", "c128", "bf16", "f8e4m3fn", "f8e4m3fnuz", "f8e5m2", "f8e5m2fnuz", "u4", "i4", "f4e2m1",
    ];

    static readonly Dictionary<string, int> ByName = Names.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i);

    public static string Name(int type) => type >= 0 && type < Names.Length ? Names[type] : $"t{type}";

    public static bool TryParse(string name, out int type)
    {
        if (ByName.TryGetValue(name, out type)) return true;
        return name.Length > 1 && name[0] == 't' && int.TryParse(name.AsSpan(1), out type);
    }

    public static bool IsInteger(int t) => t is UInt8 or Int8 or UInt16 or Int16 or Int32 or Int64 or UInt32 or UInt64 or Bool;
    public static bool IsReal(int t) => t is Float or Double;

    /// <summary>Bytes per element for fixed-size numeric types; 0 where not fixed or not supported.</summary>
    public static int Size(int t) => t switch
    {
        Float or Int32 or UInt32 => 4,
        Double or Int64 or UInt64 => 8,
        UInt8 or Int8 or Bool => 1,
        UInt16 or Int16 or Float16 or BFloat16 => 2,
        _ => 0,
    };
}
